"""Classifiers: supernet image classifiers for NAS."""
from .image_classifier_search import ImageClassifierSearch

__all__ = ['ImageClassifierSearch']
