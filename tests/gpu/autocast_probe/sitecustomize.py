"""Imported at start-up by the training runs of test_amp_training (its
folder is put on PYTHONPATH): counts the 2-d convolutions run with
gradients on, and how many of them ran under CUDA autocast, and prints
both when the process exits. So the test sees that ``--amp`` reached the
forward passes, not only the optimizer wrapper's name. A sitecustomize
further along sys.path (an image may configure itself with one) still
runs, first."""
import atexit
import importlib.util
import os
import sys


def _run_the_shadowed_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        path = os.path.join(entry or os.curdir, 'sitecustomize.py')
        if os.path.abspath(entry or os.curdir) != here and \
                os.path.isfile(path):
            spec = importlib.util.spec_from_file_location(
                '_shadowed_sitecustomize', path)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


_run_the_shadowed_sitecustomize()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

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
