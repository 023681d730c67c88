"""Imported at start-up by the training runs of test_amp_training (its
folder is put on PYTHONPATH): counts the 2-d convolutions run with
gradients on, and how many of them ran under CUDA autocast, and prints
both when the process exits. So the test sees that ``--amp`` reached the
forward passes, not only the optimizer wrapper's name."""
import atexit

import torch
import torch.nn.functional as F

_conv2d = F.conv2d
_counts = dict(autocast=0, total=0)


def _cuda_autocast() -> bool:
    try:
        return torch.is_autocast_enabled('cuda')
    except TypeError:  # older torch: no device argument
        return torch.is_autocast_enabled()


def _counting_conv2d(*args, **kwargs):
    if torch.is_grad_enabled():
        _counts['total'] += 1
        _counts['autocast'] += _cuda_autocast()
    return _conv2d(*args, **kwargs)


F.conv2d = _counting_conv2d
atexit.register(lambda: print(
    f"autocast-probe: {_counts['autocast']} of {_counts['total']} training "
    'convolutions under CUDA autocast', flush=True))
