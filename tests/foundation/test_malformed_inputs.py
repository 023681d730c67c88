"""A corpus of ordinary mistakes: configs, checkpoints, command arguments.

Each must end the tool with exit status 2 and one line on stderr that names
the key (or argument), what was expected and what was found, with the work
dir untouched. The tools run in this process (``runpy``, as ``__main__``)
so the corpus stays fast; ``test_cli_path_in_a_subprocess`` shows the same
through a real process for a few of them.
"""
import os
import runpy
import sys

import pytest
import torch

from ..conftest import REPO, run_tool

BASE = f"_base_ = ['{REPO}/configs/baseline/digits_resnet.py']\n"


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Bad checkpoint files: random bytes, half a real checkpoint, and a
    pickle that is not a checkpoint."""
    root = tmp_path_factory.mktemp('files')
    good = root / 'good.pth'
    torch.save({'state_dict': {'w': torch.arange(20000.)}}, good)
    (root / 'random.pth').write_bytes(b'\x17 not a checkpoint ' * 200)
    data = good.read_bytes()
    (root / 'truncated.pth').write_bytes(data[:len(data) // 2])
    torch.save([1, 2, 3], root / 'list.pth')
    return root


def run_in_process(tool, args, capsys, monkeypatch):
    """Run ``tools/<tool>`` as ``__main__``; return (exit code, stderr)."""
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(os.path.join(REPO, 'tools', tool), run_name='__main__')
    return exit_info.value.code, capsys.readouterr().err


def assert_one_line(code, err, prog, fragments):
    """Exit 2 and one error line, the last on stderr. The export tools
    may print progress lines before it (plain lines when not in a
    terminal); train.py and test.py print nothing else."""
    assert code == 2, err[-3000:]
    lines = err.strip().splitlines()
    if prog in ('train.py', 'test.py'):
        assert len(lines) == 1, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    assert [line for line in lines if 'error' in line] == lines[-1:], err
    assert lines[-1].startswith(f'{prog}: error: '), lines[-1]
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


# (name, config body after the digits base, expected fragments)
CONFIG_MISTAKES = [
    ('neck_bad_keyword',
     "model = dict(neck=dict(type='GlobalAveragePooling', flatten_dims=3))",
     ['model.neck: GlobalAveragePooling cannot be built',
      "unexpected keyword argument 'flatten_dims'", 'it takes dim']),
    ('head_bad_keyword',
     "model = dict(head=dict(_delete_=True, type='ClsHead', num_classes=10))",
     ['model.head: ClsHead cannot be built', 'it takes loss, topk']),
    ('head_num_classes_text',
     "model = dict(head=dict(num_classes='ten'))",
     ['model.head: LinearClsHead cannot be built', 'TypeError']),
    ('backbone_bad_depth',
     "model = dict(backbone=dict(depth=19))",
     ['model.backbone: ResNet_CIFAR cannot be built from this config: '
      'KeyError: invalid depth 19 for resnet']),
    ('backbone_unknown_type',
     "model = dict(backbone=dict(type='ResNett_CIFAR'))",
     ["unknown type 'ResNett_CIFAR' at model.backbone.type",
      'close matches:', 'ResNet_CIFAR']),
    ('preprocessor_bad_keyword',
     "model = dict(data_preprocessor=dict(to_bgr=True))",
     ['model.data_preprocessor: ClsDataPreprocessor cannot be built',
      "unexpected keyword argument 'to_bgr'", 'to_rgb']),
    ('lr_text', "optim_wrapper = dict(optimizer=dict(lr='fast'))",
     ["optim_wrapper.optimizer.lr: expected a finite number >= 0, "
      "found 'fast'"]),
    ('lr_negative', "optim_wrapper = dict(optimizer=dict(lr=-0.1))",
     ['optim_wrapper.optimizer.lr: expected', 'found -0.1']),
    ('momentum_above_one',
     "optim_wrapper = dict(optimizer=dict(momentum=1.5))",
     ['optim_wrapper.optimizer.momentum: expected a number from 0 to 1',
      'found 1.5']),
    ('weight_decay_negative',
     "optim_wrapper = dict(optimizer=dict(weight_decay=-1))",
     ['optim_wrapper.optimizer.weight_decay', 'found -1']),
    ('optimizer_unknown_type',
     "optim_wrapper = dict(optimizer=dict(type='SGDD'))",
     ["unknown type 'SGDD' at optim_wrapper.optimizer.type",
      'close matches:', 'SGD']),
    ('optimizer_bad_keyword',
     "optim_wrapper = dict(optimizer=dict(nesterovv=True))",
     ['optim_wrapper.optimizer: SGD cannot be built',
      "unexpected keyword argument 'nesterovv'"]),
    ('scheduler_bad_keyword',
     "param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', "
     "T_max=10, bogus=1)",
     ['param_scheduler: CosineAnnealingLR cannot be built',
      "unexpected keyword argument 'bogus'"]),
    ('batch_size_zero', "train_dataloader = dict(batch_size=0)",
     ['train_dataloader.batch_size: expected an integer >= 1, found 0']),
    ('batch_size_float', "val_dataloader = dict(batch_size=2.5)",
     ['val_dataloader.batch_size: expected an integer >= 1, found 2.5']),
    ('num_workers_negative', "train_dataloader = dict(num_workers=-1)",
     ['train_dataloader.num_workers: expected an integer >= 0, found -1']),
    ('persistent_without_workers',
     "train_dataloader = dict(num_workers=0, persistent_workers=True)",
     ['train_dataloader.persistent_workers: expected False']),
    ('dataset_unknown_type',
     "train_dataloader = dict(dataset=dict(type='DigitDataset'))",
     ["unknown type 'DigitDataset' at train_dataloader.dataset.type",
      'gml.DigitsDataset']),
    ('max_epochs_zero', "train_cfg = dict(max_epochs=0)",
     ['train_cfg.max_epochs: expected an integer >= 1, found 0']),
    ('max_epochs_text', "train_cfg = dict(max_epochs='10')",
     ["train_cfg.max_epochs: expected an integer >= 1, found '10'"]),
    ('val_interval_zero', "train_cfg = dict(val_interval=0)",
     ['train_cfg.val_interval: expected an integer >= 1, found 0']),
    ('seed_text', "randomness = dict(seed='abc')",
     ["randomness.seed: expected", "found 'abc'"]),
    ('val_cfg_without_loader', "val_dataloader = None\nval_evaluator = None",
     ['config: mmengine cannot build a Runner from it',
      'should be either all None or not None']),
    ('hook_unknown_type', "custom_hooks = [dict(type='NoSuchHook')]",
     ["unknown type 'NoSuchHook' at custom_hooks[0].type"]),
    ('load_from_missing', "load_from = '/no/such/file.pth'",
     ['load_from: checkpoint not found: /no/such/file.pth']),
    ('load_from_random_bytes', "load_from = '{files}/random.pth'",
     ['load_from: {files}/random.pth is not a readable checkpoint',
      'UnpicklingError']),
    ('load_from_truncated', "load_from = '{files}/truncated.pth'",
     ['load_from: {files}/truncated.pth is not a readable checkpoint']),
    ('init_cfg_checkpoint_corrupt',
     "model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
     "checkpoint='{files}/random.pth')))",
     ['model.backbone.init_cfg.checkpoint: {files}/random.pth is not a '
      'readable checkpoint']),
    ('algorithm_pretrained_truncated',
     "algorithm = dict(type='BaseAlgorithm', pretrained="
     "'{files}/truncated.pth')",
     ['algorithm.pretrained: {files}/truncated.pth is not a readable']),
    ('teacher_checkpoint_corrupt',
     "algorithm = dict(type='TeacherStudentDistillation', distill_cfg=dict("
     "teacher=dict(ckpt_path='{files}/random.pth', model=_base_.model, "
     "distill_head_cfg=[])))",
     ['algorithm.distill_cfg.teacher.ckpt_path: {files}/random.pth is not '
      'a readable checkpoint']),
    ('algorithm_unknown_type', "algorithm = dict(type='BigNASS')",
     ["unknown type 'BigNASS' at algorithm.type", 'BigNAS']),
    ('algorithm_unknown_key',
     "algorithm = dict(type='BaseAlgorithm', grad_clip=0.2)",
     ['algorithm: BaseAlgorithm does not take grad_clip']),
    ('algorithm_missing_required',
     "algorithm = dict(type='TeacherStudentDistillation')",
     ['algorithm.distill_cfg: expected']),
    ('algorithm_model_missing_file',
     "model = None\n"
     "algorithm = dict(type='BaseAlgorithm', model='/no/student.py')",
     ['algorithm.model: config file not found: /no/student.py']),
    ('model_none', "model = None",
     ['model: expected a dict with a `type` key, a config path or a module, '
      'found None']),
    ('head_fewer_classes_than_data', "model = dict(head=dict(num_classes=5))",
     ['model.head.num_classes: expected at least 10 (the classes of '
      'train_dataloader.dataset), found 5']),
    ('data_more_classes_than_head',
     "test_dataloader = dict(dataset=dict(metainfo=dict(classes=['c'] * 12)))",
     ['model.head.num_classes: expected at least 12 (the classes of '
      'test_dataloader.dataset), found 10']),
    ('topk_above_classes',
     "val_evaluator = dict(type='Accuracy', topk=(1, 20))",
     ['val_evaluator.topk: expected values up to 10 '
      '(model.head.num_classes), found (1, 20)']),
    ('loop_type_and_by_epoch', "train_cfg = dict(type='NoLoop')",
     ["train_cfg.type: expected either a loop type or by_epoch, found both "
      "(type='NoLoop', by_epoch=True)"]),
    ('logger_interval_text', "default_hooks = dict(logger=dict(interval='x'))",
     ['default_hooks.logger: LoggerHook cannot be built',
      'interval must be an integer']),
    ('scheduler_milestones_int',
     "param_scheduler = [dict(type='MultiStepLR', milestones=5)]",
     ['param_scheduler[0]: MultiStepLR cannot be built',
      "'int' object is not iterable"]),
    ('pipeline_bad_keyword',
     "train_dataloader = dict(dataset=dict(pipeline=[dict(type='PackInputs', "
     "bogus=1)]))",
     ['train_dataloader.dataset.pipeline[0]: PackInputs cannot be built',
      'it takes input_key']),
    ('backbone_depth_text', "model = dict(backbone=dict(depth='18'))",
     ['model.backbone: ResNet_CIFAR cannot be built from this config: '
      'KeyError: invalid depth 18 for resnet']),
    ('syntax_error', "model = dict(\n",
     ['syntax error']),
    ('undefined_name', "model = dict(backbone=undefined_thing)",
     ['cannot be evaluated', 'undefined_thing']),
]


@pytest.mark.parametrize('name, body, fragments', CONFIG_MISTAKES,
                         ids=[c[0] for c in CONFIG_MISTAKES])
def test_config_mistake_is_one_line(name, body, fragments, files, tmp_path,
                                    capsys, monkeypatch):
    config = tmp_path / f'{name}.py'
    config.write_text(BASE + body.replace('{files}', str(files)) + '\n')
    work_dir = tmp_path / 'work'
    code, err = run_in_process('train.py', [config, '--work-dir', work_dir],
                               capsys, monkeypatch)
    assert_one_line(code, err, 'train.py',
                    [f.replace('{files}', str(files)) for f in fragments])
    assert not work_dir.exists()


ARGUMENT_MISTAKES = [
    ('train.py', ['{cfg}', '--cfg-options', 'train_cfg.max_epochs'],
     ["--cfg-options: expected key=value, found 'train_cfg.max_epochs'"]),
    ('train.py', ['{cfg}', '--cfg-options', 'train_cfg.max_epochs=abc'],
     ["train_cfg.max_epochs: expected an integer >= 1, found 'abc'"]),
    ('train.py', ['{cfg}', '--resume', '/no/ckpt.pth'],
     ['--resume: checkpoint not found: /no/ckpt.pth']),
    ('train.py', ['/no/config.py'], ['config file not found: /no/config.py']),
    ('test.py', ['{cfg}', '{files}/random.pth'],
     ['CHECKPOINT: {files}/random.pth is not a readable checkpoint',
      'UnpicklingError']),
    ('test.py', ['{cfg}', '{files}/truncated.pth'],
     ['CHECKPOINT: {files}/truncated.pth is not a readable checkpoint']),
    ('test.py', ['{cfg}', '/no/ckpt.pth'], ['checkpoint not found']),
    ('test.py', ['{cfg}', '{files}/good.pth', '--cfg-options',
                 'test_dataloader.batch_size=-4'],
     ['test_dataloader.batch_size: expected an integer >= 1, found -4']),
    ('export_model.py', ['{algo}', '{files}/random.pth', '{out}'],
     ['{files}/random.pth is not a readable checkpoint']),
    ('export_model.py', ['{algo}', '{files}/list.pth', '{out}'],
     ['not a checkpoint of tensors']),
] + [
    # every tool that reads a trained checkpoint, with random bytes
    (tool, [f'{REPO}/configs/{config}', '{files}/random.pth'] + extra,
     ['{files}/random.pth is not a readable checkpoint', 'UnpicklingError'])
    for tool, config, extra in [
        ('export_pruned.py', 'pruning/dmcp/dmcp_resnet_digits.py',
         ['--out-dir', '{out}']),
        ('sample_pruned.py', 'pruning/dmcp/dmcp_resnet_digits.py',
         ['--out-dir', '{out}']),
        ('export_subnet.py', 'nas/bignas/bignas_resnet_digits.py',
         ['--out-dir', '{out}']),
        ('search_subnet.py', 'nas/bignas/bignas_resnet_digits.py',
         ['--work-dir', '{out}']),
        ('export_quantized.py',
         'qat/IAO/classification/iao_res18_digits_quantization.py',
         ['--out-dir', '{out}']),
        ('mess_compress.py', 'baseline/digits_resnet.py', ['--out', '{out}']),
    ]
]


@pytest.mark.parametrize('tool, args, fragments', ARGUMENT_MISTAKES,
                         ids=[f'{a[0]}-{i}' for i, a in
                              enumerate(ARGUMENT_MISTAKES)])
def test_argument_mistake_is_one_line(tool, args, fragments, files, tmp_path,
                                      capsys, monkeypatch):
    algo = tmp_path / 'algo.py'
    algo.write_text(BASE + "algorithm = dict(type='BaseAlgorithm')\n")

    def fill(text):
        return (text.replace('{algo}', str(algo)).replace('{cfg}', f'{REPO}/configs/baseline/'
                             'digits_resnet.py')
                .replace('{files}', str(files))
                .replace('{out}', str(tmp_path / 'out.pth')))
    work_dir = tmp_path / 'work'
    extra = ['--work-dir', work_dir] if tool in ('train.py', 'test.py') \
        else []
    code, err = run_in_process(tool, [fill(a) for a in args] + extra,
                               capsys, monkeypatch)
    assert_one_line(code, err, tool, [fill(f) for f in fragments])
    assert not work_dir.exists()
    assert not (tmp_path / 'out.pth').exists()


def test_cli_path_in_a_subprocess(files, tmp_path):
    """The same one line through a real process: exit 2, nothing written."""
    config = tmp_path / 'bad.py'
    config.write_text(BASE + "model = dict(neck=dict("
                      "type='GlobalAveragePooling', flatten_dims=3))\n")
    run = run_tool([sys.executable, 'tools/train.py', str(config),
                    '--work-dir', str(tmp_path / 'work')])
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.strip().splitlines() == [
        "train.py: error: model.neck: GlobalAveragePooling cannot be built "
        "from this config: TypeError: GlobalAveragePooling.__init__() got an "
        "unexpected keyword argument 'flatten_dims'; it takes dim"]
    assert not (tmp_path / 'work').exists()


def test_unused_top_level_model_is_reported(tmp_path, capsys, monkeypatch):
    """An algorithm with its own model: the different top-level model is
    not trained, and the run says so (here the run then stops when the
    Runner is built, so it stays short)."""
    config = tmp_path / 'unused.py'
    config.write_text(BASE + (
        "algorithm = dict(type='BaseAlgorithm', model=dict(_base_.model, "
        "head=dict(_base_.model.head, num_classes=12)))\n"
        "val_dataloader = None\nval_evaluator = None\n"))
    code, err = run_in_process('train.py', [config, '--work-dir',
                                            tmp_path / 'work'],
                               capsys, monkeypatch)
    assert code == 2
    assert err.strip().splitlines() == [
        'gml: warning: model: the top-level model is not used: '
        'algorithm.model replaces it (write algorithm.model=_base_.model, '
        'or leave algorithm.model out to wrap the top-level model)',
        'train.py: error: config: mmengine cannot build a Runner from it: '
        'val_dataloader, val_cfg, and val_evaluator should be either all '
        'None or not None, but got val_dataloader=None, val_cfg={}, '
        'val_evaluator=None']
    # the same model in both places: nothing to say
    config.write_text(BASE + (
        "algorithm = dict(type='BaseAlgorithm', model=_base_.model)\n"
        "val_dataloader = None\nval_evaluator = None\n"))
    code, err = run_in_process('train.py', [config, '--work-dir',
                                            tmp_path / 'work'],
                               capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize('body, message', [
    # the guide's schematic model: no neck before a linear head
    ("model = dict(neck=None)",
     "model.neck: the head LinearClsHead expects (N, 128), the backbone "
     "ResNet_CIFAR gives (N, 128, 4, 4) and there is no neck; add "
     "neck=dict(type='GlobalAveragePooling')"),
    ("model = dict(head=dict(in_channels=48))",
     "model.head.in_channels: expected 128 (what the backbone "
     "ResNet_CIFAR with the neck GlobalAveragePooling gives: (N, 128)), "
     "found 48; set in_channels=128"),
    ("model = dict(neck=None, head=dict(_delete_=True, type='ClsHead'))",
     "model.neck: the head ClsHead expects flat features (N, C), the "
     "backbone ResNet_CIFAR gives (N, 128, 4, 4) and there is no neck; add "
     "neck=dict(type='GlobalAveragePooling')"),
    ("algorithm = dict(type='BaseAlgorithm', model=dict(_base_.model, "
     "neck=None))\nmodel = None",
     "algorithm.model.neck: the head LinearClsHead expects (N, 128), the "
     "backbone ResNet_CIFAR gives (N, 128, 4, 4) and there is no neck; add "
     "neck=dict(type='GlobalAveragePooling')"),
])
def test_head_that_does_not_fit_stops_at_build(body, message, tmp_path,
                                               capsys, monkeypatch):
    config = tmp_path / 'misfit.py'
    config.write_text(BASE + body + '\n')
    code, err = run_in_process('train.py', [config, '--work-dir',
                                            tmp_path / 'work'],
                               capsys, monkeypatch)
    assert_one_line(code, err, 'train.py', [])
    assert err.strip() == f'train.py: error: {message}'
    assert not (tmp_path / 'work').exists()


def test_checkpoint_of_another_model_is_refused_by_test(tmp_path, capsys,
                                                       monkeypatch):
    """mmengine loads load_from leniently: a checkpoint of another model
    would be tested as a random model (about 10% here). test.py refuses it;
    the matching checkpoint still tests."""
    from ..conftest import train_digits_baseline
    good, accuracy = train_digits_baseline(tmp_path / 'base', 1)
    state = torch.load(good, map_location='cpu', weights_only=False)
    state['state_dict']['backbone.conv1.weight'] = torch.zeros(3, 3, 3, 3)
    for key in [k for k in state['state_dict'] if 'layer1' in k]:
        del state['state_dict'][key]
    other = tmp_path / 'other.pth'
    torch.save(state, other)
    config = f'{REPO}/configs/baseline/digits_resnet.py'
    code, err = run_in_process('test.py', [config, other, '--work-dir',
                                           tmp_path / 'work'],
                               capsys, monkeypatch)
    assert_one_line(code, err, 'test.py', [
        f'CHECKPOINT: {other} does not fit the model; missing keys: '
        'backbone.layer1.',
        'shape mismatch: backbone.conv1.weight (3, 3, 3, 3) vs '
        '(16, 3, 3, 3)'])
    assert not (tmp_path / 'work').exists()
    # (in its own process: mmengine keys its visualizer by the second the
    # run started, which both runs would share here)
    run = run_tool([sys.executable, 'tools/test.py', config, str(good),
                    '--work-dir', str(tmp_path / 'work2')])
    assert run.returncode == 0, run.stderr[-3000:]
    assert f'accuracy/top1={accuracy:.2f}' in run.stdout
