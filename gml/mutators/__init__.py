"""Mutators: which subnet configurations exist, and how to pick one."""
from .stateless import StatelessMutator

__all__ = ['StatelessMutator']
