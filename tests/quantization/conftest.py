"""The digits model of the quantization tests, and a digits baseline
trained once for them."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from gml.registry import build_model

from ..conftest import train_digits_baseline

DIGITS = (1, 3, 16, 16)


def digits_model():
    """The digits ResNet, seeded, built under mmpretrain's scope."""
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    return build_model(Config.fromfile(
        'configs/_base_/models/resnet_digits.py').model)


@pytest.fixture(scope='session')
def digits_baseline(tmp_path_factory):
    """(checkpoint path, its validation accuracy) of the digits ResNet
    trained for 4 epochs."""
    return train_digits_baseline(tmp_path_factory.mktemp('digits_baseline'),
                                 4, 'param_scheduler.1.end=4')
