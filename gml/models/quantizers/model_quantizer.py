"""What a model quantizer is: the part of QAT that rewrites a model."""
import abc

import torch.nn as nn


class ModelQuantizer(metaclass=abc.ABCMeta):
    """Turns a float model into one that trains with fake quantization,
    and a trained one into its deployable form.

    The :class:`~gml.algorithms.quantization.QAT` algorithm builds one from
    ``algorithm.quantizer``, calls :meth:`prepare` once at build time and
    trains what it returns; :meth:`convert` runs after training (``QAT
    .convert()``, ``tools/export_quantized.py``). The constructor's
    arguments are the config keys and are all checked there, so a bad
    config fails before the model is touched.
    """

    @abc.abstractmethod
    def prepare(self, model: nn.Module) -> nn.Module:
        """The model to train with fake quantization.

        ``model`` is the float model (an mmengine ``BaseModel`` such as an
        ``ImageClassifier``). The result is a module the Runner can train
        and evaluate the same way (same ``forward`` modes and data
        preprocessor); it may be ``model`` itself, changed in place, or a
        new module built from a copy.
        """

    @abc.abstractmethod
    def convert(self, model: nn.Module) -> nn.Module:
        """The deployable model of a trained :meth:`prepare` result.

        ``model`` is what :meth:`prepare` returned, after training; it is
        not changed. A quantizer with no real low-precision form raises
        :class:`~gml.errors.ConfigError` saying so.
        """
