"""Mutators: which subnet configurations exist, and how to pick one."""
from .flops import FlopsMutator
from .stateless import StatelessMutator

__all__ = ['FlopsMutator', 'StatelessMutator']
