"""mmcv-era top-level keys (the design guide's) are translated to their
mmengine keys or refused with one line (issue 15: nothing a user writes is
silently ignored). Each test writes a real config file on top of the digits
baseline and loads it as the tools do."""
import glob
import logging
import os
import re
import sys

import pytest

from gml.errors import ConfigError
from gml.utils import legacy_keys
from gml.utils.config import load_config

from ..conftest import REPO, run_tool

BASE = os.path.join(REPO, 'configs', 'baseline', 'digits_resnet.py')
GUIDE_LOG_CONFIG = '''
log_config = dict(
    interval={interval},
    hooks=[
        dict(type='TextLoggerHook'),
        dict(type='PaviLoggerHook', init_kwargs=dict(project='bignas_cls'))
    ])
'''


def _write(tmp_path, body, name='legacy.py'):
    path = tmp_path / name
    path.write_text(f'_base_ = [{BASE!r}]\n{body}')
    return str(path)


def _load(tmp_path, body, options=None):
    return load_config(_write(tmp_path, body), options)


def _refused(tmp_path, body, message, options=None):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, body, options)
    assert str(info.value) == message


@pytest.fixture
def log_lines():
    """gml's lines printed through mmengine's current logger."""
    from mmengine.logging import MMLogger
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith('gml:'):
                lines.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Keep()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------- log_config

def test_guide_log_config_becomes_logger_hook_and_tensorboard(tmp_path,
                                                              log_lines):
    cfg = _load(tmp_path, GUIDE_LOG_CONFIG.format(interval=7))
    assert _plain(cfg.default_hooks.logger) == {'type': 'LoggerHook',
                                                'interval': 7}
    # the base's visualizer keeps its type; Text is the LocalVisBackend the
    # base already has (not added twice), Pavi becomes TensorBoard
    assert _plain(cfg.visualizer) == {
        'type': 'UniversalVisualizer',
        'vis_backends': [{'type': 'LocalVisBackend'},
                         {'type': 'TensorboardVisBackend'}]}
    assert 'log_config' not in cfg
    assert 'log_config' not in cfg.pretty_text  # the dumped config is modern
    assert cfg.default_hooks.checkpoint.interval == 5  # the rest untouched
    assert log_lines == [
        "gml: mmcv-era key log_config became default_hooks.logger=dict("
        "type='LoggerHook', interval=7); visualizer backends: "
        "LocalVisBackend, TensorboardVisBackend",
        "gml: log_config.hooks[1]: PAVI is an internal service of the "
        "original toolbox; its curves go to TensorBoard event files "
        "(TensorboardVisBackend) in the work dir; init_kwargs "
        "{'project': 'bignas_cls'} dropped"]


def test_tensorboard_and_wandb_hooks_become_backends(tmp_path, monkeypatch):
    body = '''
log_config = dict(interval=4, hooks=[
    dict(type='TensorboardLoggerHook', log_dir='tb'),
    dict(type='WandbLoggerHook', init_kwargs=dict(project='p', name='n')),
    dict(type='TextLoggerHook', interval=4, by_epoch=False)])
'''
    monkeypatch.setattr(legacy_keys, 'wandb_available', lambda: False)
    _refused(tmp_path, body,
             'log_config.hooks[1]: WandbLoggerHook needs the wandb package, '
             'which is not installed; `pip install wandb` or drop the hook')
    monkeypatch.setattr(legacy_keys, 'wandb_available', lambda: True)
    cfg = _load(tmp_path, body)
    assert _plain(cfg.visualizer.vis_backends) == [
        {'type': 'LocalVisBackend'},
        {'type': 'TensorboardVisBackend', 'save_dir': 'tb'},
        {'type': 'WandbVisBackend',
         'init_kwargs': {'project': 'p', 'name': 'n'}}]
    assert _plain(cfg.default_hooks.logger) == {
        'type': 'LoggerHook', 'interval': 4, 'log_metric_by_epoch': False}


def test_pavi_without_tensorboard_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(legacy_keys, 'tensorboard_available', lambda: False)
    _refused(tmp_path, GUIDE_LOG_CONFIG.format(interval=5),
             'log_config.hooks[1]: PaviLoggerHook (replaced by TensorBoard) '
             'writes TensorBoard event files and the tensorboard package is '
             'not installed; `pip install tensorboard` or drop the hook')


@pytest.mark.parametrize('body,message', [
    ("log_config = dict(interval=5, hooks=[dict(type='MlflowLoggerHook')])",
     "log_config.hooks[0].type: expected one of ['PaviLoggerHook', "
     "'TensorboardLoggerHook', 'TextLoggerHook', 'WandbLoggerHook'], found "
     "'MlflowLoggerHook'"),
    ("log_config = dict(interval=5, hooks=[dict(type='TextLoggerHook', "
     "interval=20)])",
     'log_config.hooks[0].interval: expected 5 (mmengine logs every '
     'log_config.interval iterations to all backends), found 20'),
    ("log_config = dict(interval=5, hooks=[dict(type='PaviLoggerHook', "
     "add_graph=True)])",
     "log_config.hooks[0].add_graph: unknown key of this mmcv-era key; "
     "expected some of ['by_epoch', 'ignore_last', 'init_kwargs', "
     "'interval', 'reset_flag', 'type']"),
    ("log_config = dict(interval=0, hooks=[])",
     'log_config.interval: expected an integer >= 1, found 0'),
])
def test_log_config_mistakes_are_one_line(tmp_path, body, message):
    _refused(tmp_path, body, message)


def test_explicit_modern_key_that_conflicts_is_refused(tmp_path):
    conflict = ("log_config.interval: mmcv-era key gives "
                "default_hooks.logger.interval=7, but the config sets "
                "default_hooks.logger.interval=10; keep one of them")
    body = GUIDE_LOG_CONFIG.format(interval=7)
    _refused(tmp_path, body + 'default_hooks = dict(logger=dict(interval=10))',
             conflict)
    # --cfg-options win over what the mmcv-era key became
    cfg = _load(tmp_path, body, {'default_hooks.logger.interval': 3})
    assert cfg.default_hooks.logger.interval == 3
    assert 'log_config' not in cfg
    # the same value twice is no conflict; the base's 50 is not explicit
    cfg = _load(tmp_path, body + 'default_hooks = dict(logger=dict('
                'interval=7))')
    assert cfg.default_hooks.logger.interval == 7


# ------------------------------------------------ hooks and checkpoints

GUIDE_SEARCH_EVAL = '''
search_eval_cfg = dict(
    type='DynamicDistEvalHook',
    evaluator=dict(
        type='NaiveEvaluator', units='M', default_shape=(1, 3, 224, 224)),
    gpu_collect=True,
    bn_stats_calib_kwargs=dict(
        num_iters=-1,
        sync_params=True
    ))
'''


def test_search_eval_cfg_becomes_a_custom_hook(tmp_path):
    cfg = _load(tmp_path, GUIDE_SEARCH_EVAL)
    assert 'search_eval_cfg' not in cfg
    assert _plain(cfg.custom_hooks) == [{
        'type': 'gml.DynamicDistEvalHook',
        'evaluator': {'type': 'gml.NaiveEvaluator', 'units': 'M',
                      'default_shape': [1, 3, 224, 224]},
        'gpu_collect': True,
        'bn_stats_calib_kwargs': {'num_iters': -1, 'sync_params': True}}]
    from gml import engine  # noqa: F401  (registers the hook)
    from gml.registry import HOOKS
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert (hook.num_iters, hook.sync, hook.interval) == (-1, True, 1)
    # the same hook already in custom_hooks is not added twice
    cfg = _load(tmp_path, GUIDE_SEARCH_EVAL + 'custom_hooks = [dict('
                "search_eval_cfg, type='gml.DynamicDistEvalHook')]")
    assert len(cfg.custom_hooks) == 1


def test_checkpoint_config_becomes_checkpoint_hook_keys(tmp_path, log_lines):
    cfg = _load(tmp_path, 'checkpoint_config = dict(interval=10, '
                'max_keep_ckpts=4, save_last=False)')
    assert _plain(cfg.default_hooks.checkpoint) == {
        'type': 'CheckpointHook', 'interval': 10, 'max_keep_ckpts': 4,
        'save_best': 'auto', 'save_last': False}
    assert 'checkpoint_config' not in cfg
    assert log_lines == ['gml: mmcv-era key checkpoint_config became '
                         'default_hooks.checkpoint (CheckpointHook) '
                         'interval=10, max_keep_ckpts=4, save_last=False']
    with pytest.raises(ConfigError, match=r'^checkpoint_config\.'
                       r'create_symlink: unknown key of this mmcv-era key; '
                       r"expected some of \['backend_args', 'by_epoch'"):
        _load(tmp_path, 'checkpoint_config = dict(create_symlink=True)')


# ------------------------------------------------------------- evaluation

def test_evaluation_becomes_val_interval_and_accuracy(tmp_path):
    cfg = _load(tmp_path, "evaluation = dict(interval=3, metric='accuracy', "
                "metric_options=dict(topk=(1, 3)), save_best='auto')")
    assert cfg.train_cfg.val_interval == 3
    assert _plain(cfg.val_evaluator) == {'type': 'Accuracy', 'topk': [1, 3]}
    assert _plain(cfg.test_evaluator) == {'type': 'Accuracy', 'topk': [1, 3]}
    assert 'evaluation' not in cfg
    # without a metric the evaluators stay the base's
    cfg = _load(tmp_path, 'evaluation = dict(interval=2)')
    assert cfg.train_cfg.val_interval == 2
    assert _plain(cfg.val_evaluator) == {'type': 'Accuracy', 'topk': [1]}
    # mmcls's default topk is (1, 5)
    cfg = _load(tmp_path, "evaluation = dict(interval=1, metric=['accuracy'])")
    assert _plain(cfg.val_evaluator.topk) == [1, 5]


@pytest.mark.parametrize('body,message', [
    ("evaluation = dict(interval=1, metric='precision')",
     "evaluation.metric: mmcv-era metric 'precision'; write val_evaluator="
     "dict(type='SingleLabelMetric', items=['precision', ...]) instead"),
    ("evaluation = dict(interval=1, metric='bleu')",
     "evaluation.metric: expected 'accuracy', found 'bleu'"),
    ('evaluation = dict(interval=1, start=3)',
     "evaluation.start: unknown key of this mmcv-era key; expected some of "
     "['by_epoch', 'gpu_collect', 'interval', 'metric', 'metric_options', "
     "'rule', 'save_best', 'topk']"),
    ('evaluation = dict(interval=1, by_epoch=False)',
     'evaluation.by_epoch: expected True (as train_cfg.by_epoch), found '
     'False'),
    ("evaluation = dict(interval=4)\ntrain_cfg = dict(val_interval=2)",
     'evaluation.interval: mmcv-era key gives train_cfg.val_interval=4, but '
     'the config sets train_cfg.val_interval=2; keep one of them'),
])
def test_evaluation_mistakes_are_one_line(tmp_path, body, message):
    _refused(tmp_path, body, message)


# -------------------------------------------------------------- schedule

def test_optimizer_replaces_and_grad_clip_becomes_clip_grad(tmp_path):
    cfg = _load(tmp_path, "optimizer = dict(type='Adam', lr=0.05)\n"
                'optimizer_config = dict(grad_clip=dict(max_norm=35, '
                'norm_type=2))')
    # replaced, not merged: the base's SGD momentum/nesterov are gone
    assert _plain(cfg.optim_wrapper) == {
        'optimizer': {'type': 'Adam', 'lr': 0.05},
        'clip_grad': {'max_norm': 35, 'norm_type': 2}}
    assert cfg.optim_wrapper.optimizer.lr == 0.05
    assert 'optimizer' not in cfg and 'optimizer_config' not in cfg
    cfg = _load(tmp_path, "optimizer = dict(type='SGD', lr=0.05, "
                'momentum=0.9)\noptimizer_config = dict(grad_clip=None)')
    assert _plain(cfg.optim_wrapper) == {
        'optimizer': {'type': 'SGD', 'lr': 0.05, 'momentum': 0.9}}
    cfg = _load(tmp_path, "optimizer_config = dict(type="
                "'GradientCumulativeOptimizerHook', cumulative_iters=4)")
    assert cfg.optim_wrapper.accumulative_counts == 4


@pytest.mark.parametrize('body,message', [
    ("optimizer = dict(type='SGD', lr=0.05)\n"
     'optim_wrapper = dict(optimizer=dict(lr=0.2))',
     "optimizer: mmcv-era key gives optim_wrapper.optimizer={'type': 'SGD', "
     "'lr': 0.05}, but the config sets optim_wrapper.optimizer={'type': "
     "'SGD', 'lr': 0.2, 'momentum': 0.9, 'weight_decay': 0.0005, "
     "'nesterov': True}; keep one of them"),
    ('optimizer_config = dict(grad_clip=None, loss_scale=512.)',
     "optimizer_config: mmcv-era fp16 optimizer hook; write --amp on the "
     "command line (or optim_wrapper=dict(type='AmpOptimWrapper', "
     "loss_scale='dynamic')) instead"),
    ('optimizer = dict(lr=0.1)',
     "optimizer.type: expected an optimizer name such as 'SGD', found none "
     "(one optimizer per model part is written as "
     "optim_wrapper.constructor)"),
])
def test_optimizer_mistakes_are_one_line(tmp_path, body, message):
    _refused(tmp_path, body, message)


def test_runner_and_total_epochs_set_max_epochs(tmp_path):
    cfg = _load(tmp_path, "runner = dict(type='EpochBasedRunner', "
                'max_epochs=12)')
    assert _plain(cfg.train_cfg) == {'by_epoch': True, 'max_epochs': 12,
                                     'val_interval': 5}
    assert 'runner' not in cfg
    cfg = _load(tmp_path, 'total_epochs = 8')
    assert cfg.train_cfg.max_epochs == 8 and 'total_epochs' not in cfg
    _refused(tmp_path, "runner = dict(type='EpochBasedRunner', max_epochs=12)"
             '\ntotal_epochs = 8',
             'total_epochs: mmcv-era key gives train_cfg.max_epochs=8, but '
             'the config sets train_cfg.max_epochs=12; keep one of them')
    # --cfg-options win, on the modern key or on the mmcv-era one
    runner = "runner = dict(type='EpochBasedRunner', max_epochs=12)"
    assert _load(tmp_path, runner, {'train_cfg.max_epochs': 1}
                 ).train_cfg.max_epochs == 1
    assert _load(tmp_path, runner, {'runner.max_epochs': 3}
                 ).train_cfg.max_epochs == 3


def test_iter_based_runner_becomes_an_iteration_loop(tmp_path):
    cfg = _load(tmp_path, "runner = dict(type='IterBasedRunner', "
                'max_iters=200)\nevaluation = dict(interval=50, '
                'by_epoch=False)')
    assert _plain(cfg.train_cfg) == {'by_epoch': False, 'max_iters': 200,
                                     'val_interval': 50}
    _refused(tmp_path, "runner = dict(type='IterBasedRunner', max_iters=200)"
             '\ntrain_cfg = dict(max_epochs=3)',
             "runner: mmcv-era IterBasedRunner gives train_cfg={'by_epoch': "
             "False, 'max_iters': 200}, but the config sets "
             "train_cfg.max_epochs=3; keep one of them")
    _refused(tmp_path, "runner = dict(type='DynamicIterBasedRunner', "
             'max_iters=10)',
             'runner.type: expected EpochBasedRunner or IterBasedRunner, '
             "found 'DynamicIterBasedRunner'")


# --------------------------------------------------------------- runtime

def test_runtime_keys(tmp_path, log_lines):
    cfg = _load(tmp_path, "resume_from = 'work_dirs/x/epoch_3.pth'\n"
                "dist_params = dict(backend='gloo', port=29600)\n"
                "workflow = [('train', 1)]\ngpu_ids = [0]\n"
                'cudnn_benchmark = True')
    assert (cfg.resume, cfg.load_from) == (True, 'work_dirs/x/epoch_3.pth')
    assert _plain(cfg.env_cfg.dist_cfg) == {'backend': 'gloo', 'port': 29600}
    assert cfg.env_cfg.cudnn_benchmark is True
    for key in ('resume_from', 'dist_params', 'workflow', 'gpu_ids',
                'cudnn_benchmark'):
        assert key not in cfg
    assert log_lines == [
        "gml: mmcv-era key resume_from became resume=True, "
        "load_from='work_dirs/x/epoch_3.pth'",
        "gml: mmcv-era key dist_params became env_cfg.dist_cfg "
        "{'backend': 'gloo', 'port': 29600}",
        "gml: mmcv-era key workflow became nothing: [('train', 1)] is what "
        "mmengine's training loop does",
        'gml: mmcv-era key gpu_ids became nothing: the launcher chooses the '
        'GPUs (tools/dist_train.sh, CUDA_VISIBLE_DEVICES)',
        'gml: mmcv-era key cudnn_benchmark became '
        'env_cfg.cudnn_benchmark=True']
    _refused(tmp_path, "workflow = [('train', 1), ('val', 1)]",
             "workflow: expected [('train', 1)] (validation runs every "
             "train_cfg.val_interval epochs), found [('train', 1), "
             "('val', 1)]")
    _refused(tmp_path, "resume_from = 'a.pth'\nload_from = 'b.pth'",
             "resume_from: mmcv-era key gives load_from='a.pth', but the "
             "config sets load_from='b.pth'; keep one of them")


# --------------------------------------------------------------- refusals

@pytest.mark.parametrize('body,message', [
    ("lr_config = dict(policy='step', step=[30, 60], warmup='linear', "
     'warmup_iters=500)',
     "lr_config: mmcv-era key; write param_scheduler (warmup='linear' is "
     "LinearLR with by_epoch=False, end=warmup_iters; policy='step' is "
     "MultiStepLR; e.g. dict(type='MultiStepLR', by_epoch=True, "
     "milestones=[30, 60], gamma=0.1)) instead"),
    ("lr_config = dict(policy='CosineAnnealing', min_lr=0)",
     "lr_config: mmcv-era key; write param_scheduler (policy="
     "'CosineAnnealing' is CosineAnnealingLR) instead"),
    ("momentum_config = dict(policy='cyclic')",
     "momentum_config: mmcv-era key; write momentum schedulers in "
     "param_scheduler (policy='cyclic' is CyclicMomentum (no mmengine "
     "equivalent; OneCycleLR cycles momentum too)) instead"),
    ('data = dict(samples_per_gpu=32, workers_per_gpu=2)',
     'data: mmcv-era key; write train_dataloader, val_dataloader and '
     'test_dataloader, each dict(batch_size=32, num_workers=2, dataset=..., '
     "sampler=dict(type='DefaultSampler', shuffle=...)) instead"),
    ('fp16 = dict(loss_scale=512.)',
     "fp16: mmcv-era key; write --amp on the command line (or optim_wrapper="
     "dict(type='AmpOptimWrapper', loss_scale='dynamic')) instead"),
])
def test_keys_without_translation_are_refused(tmp_path, log_lines, body,
                                              message):
    # refused before anything is rewritten or logged
    _refused(tmp_path, GUIDE_LOG_CONFIG.format(interval=5) + body, message)
    assert log_lines == []


def test_modern_configs_are_untouched(tmp_path, log_lines):
    cfg = load_config(BASE)
    assert 'log_config' not in cfg.pretty_text
    assert cfg.default_hooks.logger.interval == 50
    assert log_lines == []


def test_table_entries_are_translators_or_refusals():
    for key, entry in legacy_keys.LEGACY_KEYS.items():
        assert callable(entry) or isinstance(entry, legacy_keys.Refuse), key
    assert set(legacy_keys.LEGACY_KEYS) >= {
        'log_config', 'search_eval_cfg', 'checkpoint_config', 'evaluation',
        'optimizer', 'optimizer_config', 'runner', 'total_epochs',
        'resume_from', 'dist_params', 'workflow', 'gpu_ids',
        'cudnn_benchmark', 'lr_config', 'momentum_config', 'data', 'fp16'}


# ------------------------------------------------------------ end to end

def test_train_with_the_guide_log_config(tmp_path):
    """The guide's Text + Pavi log_config: a line every 5 iterations and
    TensorBoard event files in the work dir."""
    pytest.importorskip('tensorboard')
    config = _write(tmp_path, GUIDE_LOG_CONFIG.format(interval=5),
                    'guide_log.py')
    work_dir = tmp_path / 'work'
    run = run_tool([sys.executable, 'tools/train.py', config, '--work-dir',
                    str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1'])
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert 'gml: mmcv-era key log_config became' in output
    # 1,438 training images in batches of 64: 23 iterations, logged at 5, 10,
    # 15 and 20
    steps = re.findall(r'Epoch\(train\) \[1\]\[\s*(\d+)/23\]', output)
    assert steps == ['5', '10', '15', '20']
    events = glob.glob(str(work_dir / '*' / 'vis_data' / 'events.out.*'))
    assert len(events) == 1 and os.path.getsize(events[0]) > 0
    dumped = glob.glob(str(work_dir / '*' / 'vis_data' / 'config.py'))
    assert dumped
    text = open(dumped[0]).read()
    assert 'log_config' not in text and 'TensorboardVisBackend' in text
