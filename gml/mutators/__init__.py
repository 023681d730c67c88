"""Mutators: which subnet configurations exist, and how to pick one."""
from .dmcp import DMCPMutator
from .flops import FlopsMutator
from .stateless import StatelessMutator

__all__ = ['DMCPMutator', 'FlopsMutator', 'StatelessMutator']
