"""A digits baseline trained once for the quantization tests."""
import pytest

from ..conftest import train_digits_baseline


@pytest.fixture(scope='session')
def digits_baseline(tmp_path_factory):
    """(checkpoint path, its validation accuracy) of the digits ResNet
    trained for 4 epochs."""
    return train_digits_baseline(tmp_path_factory.mktemp('digits_baseline'),
                                 4, 'param_scheduler.1.end=4')
