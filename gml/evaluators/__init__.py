"""Evaluators of model cost (FLOPs, parameters)."""
from .naive_evaluator import NaiveEvaluator

__all__ = ['NaiveEvaluator']
