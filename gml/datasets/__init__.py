"""Datasets registered under the ``gml`` scope, and data checks."""
from .cifar import CIFAR10, CIFAR100
from .digits import DigitsDataset
from .preflight import check_data_available

__all__ = ['DigitsDataset', 'CIFAR10', 'CIFAR100', 'check_data_available']
