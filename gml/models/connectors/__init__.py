"""Connectors: modules that reshape a feature before a distillation loss.

Each has ``needs_pretrain``; importing this package registers them in
:data:`gml.registry.MODELS` (``type='gml.ConvConnector'`` and so on).
"""
from .conv_connector import ConvConnector, IdentityConnector
from .factor_transfer import Paraphraser, Translator, build_criterion
from .fitnet_regressor import FitNetRegressor

__all__ = ['ConvConnector', 'FitNetRegressor', 'IdentityConnector',
           'Paraphraser', 'Translator', 'build_criterion']
