"""Evaluators of model cost (FLOPs, parameters)."""
from .naive_evaluator import NaiveEvaluator
from .subnet_cost import SubnetCost

__all__ = ['NaiveEvaluator', 'SubnetCost']
