"""Quantization-aware training algorithms."""
from .qat import QAT

__all__ = ['QAT']
