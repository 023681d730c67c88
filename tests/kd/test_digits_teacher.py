"""One trained digits baseline serves every digits config that starts from
a checkpoint: the KD teacher, the QAT fp32 start and the MESS start."""
import glob
import os

import pytest

from ..conftest import REPO

BASELINE = 'configs/baseline/digits_resnet.py'
# what `python tools/train.py configs/baseline/digits_resnet.py` leaves
CHECKPOINT = 'work_dirs/digits_resnet/epoch_30.pth'
DIGITS = sorted(os.path.relpath(p, REPO) for p in glob.glob(
    os.path.join(REPO, 'configs', '**', '*digits*.py'), recursive=True)
    if f'{os.sep}_base_{os.sep}' not in p)


def _load(path):
    """The config; its folder is on the path for its custom_imports (the
    guide's configs import plugin files next to them, e.g. hook_actnn)."""
    import sys

    from gml.utils.config import load_config
    folder = os.path.dirname(os.path.join(REPO, path))
    sys.path.insert(0, folder)
    try:
        return load_config(os.path.join(REPO, path))
    finally:
        sys.path.remove(folder)


def _start_checkpoints(cfg):
    """Every checkpoint a config starts from: teachers' ckpt_path, the
    algorithm's pretrained, load_from."""
    found = []
    algorithm = cfg.get('algorithm') or {}
    teachers = (algorithm.get('distill_cfg') or {}).get('teacher') or []
    for teacher in teachers if isinstance(teachers, list) else [teachers]:
        found.append(teacher.get('ckpt_path'))
    found += [algorithm.get('pretrained'), cfg.get('load_from')]
    return [path for path in found if path]


def test_the_baseline_leaves_the_checkpoint_the_configs_name():
    cfg = _load(BASELINE)
    epochs = cfg.train_cfg.max_epochs
    assert epochs % cfg.default_hooks.checkpoint.interval == 0
    name = os.path.splitext(os.path.basename(BASELINE))[0]
    assert CHECKPOINT == f'work_dirs/{name}/epoch_{epochs}.pth'


@pytest.mark.parametrize('path', DIGITS)
def test_digits_configs_start_from_the_one_baseline(path):
    for checkpoint in _start_checkpoints(_load(path)):
        assert checkpoint == CHECKPOINT, (path, checkpoint)


def test_kd_qat_and_mess_digits_configs_all_start_from_it():
    users = {p for p in DIGITS if _start_checkpoints(_load(p))}
    for expected in ('configs/kd/kd/kd_digits.py',
                     'configs/kd/meal/meal_digits.py',
                     'configs/qat/IAO/classification/'
                     'iao_res18_digits_quantization.py',
                     'configs/quantization/lsq/lsq_w4a4_resnet_digits.py',
                     'configs/mess/mess_v2qq_resnet_digits.py'):
        assert expected in users


def test_the_kd_teacher_is_the_baseline_model():
    """A checkpoint of the baseline loads into the KD teacher strictly."""
    from mmengine.registry import init_default_scope

    from gml.registry import build_model
    init_default_scope('mmpretrain')
    users = [p for p in DIGITS if
             (_load(p).get('algorithm') or {}).get('distill_cfg')]
    assert set(users) >= {'configs/kd/ab/ab_digits.py',
                          'configs/kd/factor_transfer/ft_digits.py',
                          'configs/kd/fitnet/fitnet_digits.py',
                          'configs/kd/kd/kd_digits.py',
                          'configs/kd/meal/meal_digits.py'}
    baseline = build_model(_load(BASELINE).model).state_dict()
    for path in users:
        teacher = _load(path).algorithm.distill_cfg.teacher
        model = build_model(teacher.model)
        model.load_state_dict(baseline, strict=True)
