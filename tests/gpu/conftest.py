"""What the CUDA-only tests share: the skip, with its reason, where no
CUDA device is present (``benchmarks/gpu_checks.sh`` runs them on one).

``GML_GPU_CHECKS_DRY=1`` on a machine without CUDA runs them anyway as a
dry run of their own logic (no ``--amp``, fake GPU ids), so a mistake in
a test shows before device time is spent on it."""
import os

import pytest
import torch

CUDA = torch.cuda.is_available()
DRY = not CUDA and os.environ.get('GML_GPU_CHECKS_DRY') == '1'

#: every module here sets ``pytestmark = needs_cuda`` (plus its own marks)
needs_cuda = [
    pytest.mark.gpu,
    pytest.mark.skipif(not (CUDA or DRY), reason='needs a CUDA device: '
                       'torch.cuda.is_available() is False here (run '
                       'benchmarks/gpu_checks.sh on a GPU machine)'),
]
