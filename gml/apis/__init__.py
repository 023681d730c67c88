"""Library entry points behind ``tools/train.py`` and ``tools/test.py``."""
from .runner import build_runner, prepare_config, test, train

__all__ = ['prepare_config', 'build_runner', 'train', 'test']
