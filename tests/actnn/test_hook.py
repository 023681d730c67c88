"""ActNN in the mmengine Runner: gml's ActNNHook from a config, and the
design guide's own hook_actnn.py ported with only its imports changed."""
import re
import sys
import textwrap

import pytest

from ..conftest import REPO, run_tool

# The guide's hook (seeds/000), imports changed from mmcv/actnn to
# mmengine/gml: nothing else.
PORTED_HOOK = textwrap.dedent('''
    from gml.actnn.compat import Hook
    from mmengine.model import is_model_wrapper as is_module_wrapper
    from mmengine.registry import HOOKS

    import gml.actnn as actnn
    import torch

    @HOOKS.register_module()
    class ActNNHook(Hook):

        def __init__(self, default_bit=4):
            self.default_bit = default_bit

        def after_run(self, runner):
            torch._C._autograd._reset_saved_tensors_default_hooks()

        def before_run(self, runner):
            controller = actnn.controller.Controller(
                default_bit=self.default_bit)

            def pack_hook(x):
                r = controller.quantize(x)
                del x
                return r

            def unpack_hook(x):
                r = controller.dequantize(x)
                del x
                return r

            torch._C._autograd._register_saved_tensors_default_hooks(
                pack_hook, unpack_hook)
            runner.controller = controller

        def before_train_epoch(self, runner):
            model = (runner.model.module if is_module_wrapper(
                runner.model) else runner.model)
            runner.controller.unrelated_tensors = set()
            runner.controller.filter_tensors(model.named_parameters())

        def after_train_iter(self, runner):
            runner.controller.iterate()
''')

SHORT = ['--cfg-options', 'train_cfg.max_epochs=3',
         'param_scheduler.1.end=3', 'train_cfg.val_interval=3']


def accuracy(run):
    assert run.returncode == 0, run.stderr[-3000:]
    return float(re.search(r'accuracy/top1=([0-9.]+)', run.stdout).group(1))


@pytest.mark.slow
def test_the_guides_hook_ported_with_new_imports_trains(tmp_path):
    (tmp_path / 'hook_actnn.py').write_text(PORTED_HOOK)
    config = tmp_path / 'config.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{REPO}/configs/baseline/digits_resnet.py']
        custom_imports = dict(imports=['hook_actnn'],
                              allow_failed_imports=False)
        custom_hooks = [dict(type='ActNNHook', default_bit=4)]
        '''))
    run = run_tool([sys.executable, 'tools/train.py', str(config),
                    '--work-dir', str(tmp_path / 'work')] + SHORT,
                   env={'PYTHONPATH': str(tmp_path)})
    assert accuracy(run) > 30  # three epochs of a 10-class problem


@pytest.mark.slow
def test_gml_hook_logs_the_compression_ratio(tmp_path):
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/actnn/actnn_b4_resnet_digits.py', '--work-dir',
                    str(tmp_path)] + SHORT)
    assert accuracy(run) > 30
    ratios = [float(v) for v in re.findall(r'actnn_ratio: ([0-9.]+)',
                                           run.stdout)]
    # 4 bits, group 256, bf16 metadata: at most 7.76x; the image and the
    # small tensors are kept as they are
    assert ratios and all(6.5 < r < 7.76 for r in ratios), ratios


def test_a_bad_level_in_a_config_is_one_message(tmp_path):
    run = run_tool([sys.executable, 'tools/train.py',
                    'configs/actnn/actnn_l3_resnet_digits.py', '--work-dir',
                    str(tmp_path / 'work'), '--cfg-options',
                    'custom_hooks.0.level=L5'])
    assert run.returncode == 2 and 'Traceback' not in run.stderr
    assert "train.py: error: actnn level 'L5' is not supported: ActNN's L5 " \
        'adds allocator defragmentation that needs a patched PyTorch' in \
        run.stderr
    assert not (tmp_path / 'work').exists()
