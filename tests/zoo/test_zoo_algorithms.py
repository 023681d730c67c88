"""gml's algorithms on mmpretrain's own architectures (the "zoo").

Every architecture of :mod:`tests.zoo.architectures` (the real depths and
widths, a 10-class head, 32 x 32 inputs) is trained for a few iterations
under each algorithm, built from a config dict the way a user's config
builds it:

- ``int8``: ``gml.QAT`` with ``gml.TorchDefaultQuantizer`` (pt2e int8
  QAT, the IAO configs' fbgemm backend, the classifier left fp32, from an
  fp32 checkpoint as the IAO configs start); the trained model is then
  exported with ``export_quantized`` (a config and a checkpoint, as
  ``tools/export_quantized.py`` does) and the int8 program is checked
  against the fake-quantized model;
- ``lsq``: ``gml.QAT`` with ``gml.LowBitQuantizer``, LSQ 4-bit weights and
  4-bit activations (``configs/quantization/lsq``);
- ``kd``: ``gml.TeacherStudentDistillation``, Hinton KD on the logits from
  a second (untrained) instance of the same architecture
  (``configs/kd/kd``);
- ``actnn``: ``gml.ActNNHook`` at level L3 (``configs/actnn``), driven
  through the Runner's hook points around ``train_step``.

A training step is the model's ``train_step`` with an mmengine
``OptimWrapper`` (SGD): every loss must be finite and weights must change.

Set ``GML_ZOO_RESULTS=<file>`` to append each case's measurements (time,
losses, int8 differences and sizes) as JSON lines, from which
``docs/zoo.md`` was written.
"""
import json
import os
import time

import pytest
import torch

from .architectures import (ARCHITECTURES, INPUT_SHAPE, INPUT_SIZE,
                            NUM_CLASSES, logits_module, model_config)

ALGORITHMS = ['int8', 'lsq', 'kd', 'actnn']
BATCH = 4
ITERATIONS = 2
#: SGD's learning rate (momentum 0.9): the IAO configs' fine-tuning rate
LR = 0.001
#: the input change (in the normalised input's units) and the number of
#: draws that measure how much the fake-quantized model's logits move by
#: themselves, the scale the int8 program's difference is compared with
PERTURBATION = 1e-4
PERTURBATIONS = 3
#: batches that set the BatchNorm statistics of the int8 cases' fp32 start
CALIBRATION_BATCHES = 4
#: int8 program vs fake-quantized model: the largest logit difference is
#: at most this many times the fake-quantized model's own movement under
#: a 1e-4 input change (PERTURBATION), or this share of the largest logit.
#: Randomly initialised nets amplify every rounding step that flips: one
#: ulp of float arithmetic in a folded conv moves a value across a
#: quantization boundary as a 1e-4 input change does. Measured: 0.71 to
#: 2.51 times (docs/zoo.md)
INT8_NOISE_FACTOR = 5
INT8_FLOOR = 0.02


def algorithm_config(arch: str, algorithm: str) -> dict:
    """The ``algorithm=dict(...)`` block a user writes for ``arch``."""
    model = model_config(arch)
    if algorithm == 'int8':   # configs/qat/IAO/classification/_base_
        return dict(type='gml.QAT', model=model, quantizer=dict(
            type='gml.TorchDefaultQuantizer', backend='fbgemm',
            output_layer='backbone', input_shape=INPUT_SHAPE))
    if algorithm == 'lsq':    # configs/quantization/lsq/lsq_w4a4_*
        return dict(type='gml.QAT', model=model, quantizer=dict(
            type='gml.LowBitQuantizer', method='lsq', weight_bits=4,
            act_bits=4, grad_scale='lsq', keep_first_last=True,
            per_channel=True))
    if algorithm == 'kd':     # configs/kd/kd/kd_digits.py
        logits = logits_module(arch)
        return dict(
            type='gml.TeacherStudentDistillation', model=model,
            student_loss_weight=0.1,
            distill_cfg=dict(
                teacher=dict(model=model_config(arch), ckpt_path=None),
                distill_head_cfg=[dict(
                    student_module=logits, teacher_module=logits,
                    head=dict(type='gml.BaseDistillationHead', name='kd',
                              loss=dict(type='gml.KDLoss', temperature=4.0,
                                        loss_weight=0.9)))]))
    raise ValueError(algorithm)


def batch(seed: int) -> dict:
    """Random images (0..255, as the data pipeline yields them) and labels."""
    from mmpretrain.structures import DataSample
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(BATCH, 3, INPUT_SIZE, INPUT_SIZE,
                        generator=generator) * 255
    labels = torch.randint(0, NUM_CLASSES, (BATCH, ), generator=generator)
    return dict(inputs=images,
                data_samples=[DataSample().set_gt_label(int(label))
                              for label in labels])


def trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


def train(model, hooks=()) -> list:
    """``ITERATIONS`` training steps of ``model`` (SGD through an
    OptimWrapper), with ``hooks`` called at the Runner's hook points;
    returns the logged losses of each step."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub
    from mmengine.optim import OptimWrapper
    runner = SimpleNamespace(model=model,
                             message_hub=MessageHub.get_current_instance())
    optim = OptimWrapper(torch.optim.SGD(trainable(model), lr=LR,
                                         momentum=0.9))
    model.train()
    logs = []
    for hook in hooks:
        hook.before_run(runner)
    try:
        for hook in hooks:
            hook.before_train_epoch(runner)
        for i in range(ITERATIONS):
            data = batch(seed=i)
            logs.append({k: float(torch.as_tensor(v).detach()) for k, v
                         in model.train_step(data, optim).items()})
            for hook in hooks:
                hook.after_train_iter(runner, i, data, logs[-1])
    finally:
        for hook in hooks:
            hook.after_run(runner)
    return logs


def record(**result) -> None:
    path = os.environ.get('GML_ZOO_RESULTS')
    if path:
        with open(path, 'a') as f:
            f.write(json.dumps(result) + '\n')


def fp32_start(arch: str, path: str) -> str:
    """A checkpoint of ``arch`` whose BatchNorm statistics are those of
    the zoo's data (QAT fine-tunes a trained fp32 model; at their initial
    statistics some nets give the same logits for every image in eval
    mode, and the int8 comparison would compare constants)."""
    from gml.registry import build_model
    model = build_model(model_config(arch)).train()
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # the plain average of the batches below
    with torch.no_grad():
        for i in range(CALIBRATION_BATCHES):
            data = model.data_preprocessor(batch(seed=1000 + i), True)
            model(data['inputs'], mode='tensor')
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def export_int8(algorithm, algorithm_cfg: dict, tmp_path) -> dict:
    """Export the trained int8 QAT ``algorithm`` with gml's export API (a
    config and a checkpoint, as tools/export_quantized.py does) and
    compare the program's logits with the fake-quantized model's."""
    from mmengine.config import Config

    from gml.apis.program import load_program
    from gml.apis.quantize import export_quantized
    checkpoint = str(tmp_path / 'qat.pth')
    torch.save(dict(state_dict=algorithm.state_dict()), checkpoint)
    cfg = Config(dict(default_scope='mmpretrain', algorithm=algorithm_cfg))
    summary = export_quantized(cfg, checkpoint, str(tmp_path / 'int8'))
    program = load_program(summary['program'])
    images = batch(seed=100)['inputs']
    algorithm.eval()
    with torch.no_grad():
        inputs = algorithm.data_preprocessor(dict(inputs=images),
                                             False)['inputs']
        fake = algorithm(inputs, mode='tensor')
        real = program(images)
        # how far the fake-quantized model moves by itself when its
        # (normalised) input moves by 1e-4, 1/200 of an 8-bit input step
        generator = torch.Generator().manual_seed(0)
        noise = max((algorithm(inputs + PERTURBATION * torch.randn(
            inputs.shape, generator=generator), mode='tensor') - fake)
            .abs().max().item() for _ in range(PERTURBATIONS))
    assert real.shape == fake.shape == (BATCH, NUM_CLASSES)
    assert torch.isfinite(real).all()
    # the images give different logits: the comparison is not of constants
    spread = (fake - fake.mean(0)).abs().max().item()
    # the float model the int8 one replaces, as a state dict file
    from gml.registry import build_model
    fp32 = str(tmp_path / 'fp32.pth')
    torch.save(build_model(algorithm_cfg['model']).state_dict(), fp32)
    scale = fake.abs().max().item()
    return dict(max_abs_diff=(real - fake).abs().max().item(),
                logits_max=scale, logits_spread=spread, self_noise=noise,
                relative_diff=(real - fake).abs().max().item() / scale,
                same_class=(real.argmax(1) == fake.argmax(1)).sum().item(),
                int8_bytes=summary['bytes'], fp32_bytes=os.path.getsize(fp32),
                size_ratio=summary['bytes'] / os.path.getsize(fp32),
                int8_layers=summary['layers'])


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """Build under mmpretrain's scope, as its configs do
    (``default_scope='mmpretrain'``)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


@pytest.mark.zoo
@pytest.mark.parametrize('algorithm', ALGORITHMS)
@pytest.mark.parametrize('arch', list(ARCHITECTURES))
def test_zoo(arch, algorithm, tmp_path):
    from gml.registry import HOOKS, build_algorithm, build_model
    torch.manual_seed(0)
    start = time.perf_counter()
    hooks = []
    if algorithm == 'actnn':   # configs/actnn/actnn_l3_resnet_digits.py
        model = build_model(model_config(arch))
        hooks = [HOOKS.build(dict(type='gml.ActNNHook', level='L3'))]
        student = model
    else:
        cfg = algorithm_config(arch, algorithm)
        if algorithm == 'int8':
            cfg['pretrained'] = fp32_start(arch, str(tmp_path / 'start.pth'))
        model = build_algorithm(cfg)
        student = model.model
    before = {k: p.detach().clone() for k, p in student.named_parameters()}
    logs = train(model, hooks)
    for log in logs:
        assert log and all(torch.isfinite(torch.tensor(v))
                           for v in log.values()), log
    changed = [k for k, p in student.named_parameters()
               if not torch.equal(before[k], p.detach())]
    assert changed, f'{arch} {algorithm}: no weight changed'
    result = dict(arch=arch, algorithm=algorithm, losses=logs,
                  changed=len(changed), weights=len(before))
    if algorithm == 'actnn':
        ratio = hooks[0].controller.ratio
        assert ratio > 1, ratio   # activations were kept compressed
        result['actnn_ratio'] = ratio
    if algorithm == 'int8':
        result.update(export_int8(model, cfg, tmp_path))
        assert result['logits_spread'] > 0.01 * result['logits_max'], result
        assert result['max_abs_diff'] <= max(
            INT8_NOISE_FACTOR * result['self_noise'],
            INT8_FLOOR * result['logits_max']), result
    result['seconds'] = round(time.perf_counter() - start, 2)
    record(**result)
