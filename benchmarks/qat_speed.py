"""What int8 QAT buys and costs on the CPU: the converted int8 model vs
fp32 (latency, file size) and the QAT training step vs the fp32 one.

Usage: python benchmarks/qat_speed.py [--repeats 30] [--threads 1]
       [--device cpu|cuda]

For ResNet-18 CIFAR-10 (32x32) and the digits ResNet (16x16), built from
the shipped IAO configs (fbgemm backend, region backbone.conv1..backbone):
1. the QAT graph sees a few training batches (so its ranges are set), is
   converted to int8 and saved as a program, next to the fp32 model saved
   the same way; both files' sizes (target ratio <= 0.3);
2. latency at batch 32 of the loaded programs, side by side: fp32 eager,
   fp32 and int8 through torch.compile with frozen weights (int8 kernels
   need it); target int8 / fp32 <= 0.5;
3. one training step (forward, backward, SGD step) of the QAT graph vs the
   fp32 model at batch 64; with --device cuda, this part alone, on the GPU
   (the int8 kernels of 1. and 2. are the CPU's).
Weights are as initialised: speed and size do not depend on training.
Prints one JSON line.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _timing import interleaved_medians  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
CONFIGS = {
    'ResNet-18 CIFAR-10': 'configs/qat/IAO/classification/'
                          'iao_res18_cifar10_quantization_8xb16.py',
    'digits ResNet': 'configs/qat/IAO/classification/'
                     'iao_res18_digits_quantization.py',
}


def build(config):
    """(fp32 model, QAT algorithm) of ``config`` with the same weights."""
    import copy

    import torch
    from mmengine.registry import init_default_scope

    from gml.registry import build_algorithm, build_model
    from gml.utils.config import load_config
    cfg = load_config(os.path.join(REPO, config))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    algorithm_cfg = copy.deepcopy(cfg.algorithm.to_dict())
    algorithm_cfg.pop('pretrained')
    algorithm_cfg['model'] = copy.deepcopy(model)
    return model, build_algorithm(algorithm_cfg), cfg


def step_fn(model, batch, labels):
    import torch
    optim = torch.optim.SGD(model.parameters(), lr=1e-4)

    def step():
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch), labels)
        loss.backward()
        optim.step()
    return step


def train_steps(plain, qat, shape, repeats, device):
    """Median ms of a training step at batch 64 on ``device``: the fp32
    model and the QAT graph, interleaved."""
    import torch
    batch = torch.rand(64, *shape[1:], device=device)
    labels = torch.randint(0, 10, (64, ), device=device)
    plain.to(device).train(), qat.to(device).train()
    return interleaved_medians(
        {'fp32': step_fn(plain, batch, labels),
         'qat': step_fn(qat, batch, labels)}, max(5, repeats // 3), device)


def measure(name, config, repeats, tmp, device='cpu'):
    import torch

    from gml.apis.program import WithPreprocessing, load_program, save_program
    model, algorithm, cfg = build(config)
    shape = algorithm.quantizer.input_shape
    qat = algorithm.model
    steps = train_steps(model, qat, shape, repeats, device)
    step_ratio = round(steps['qat'] / steps['fp32'], 3)
    if device != 'cpu':  # the int8 kernels (fbgemm) are the CPU's
        return dict(input_shape=list(shape), train_step_ms_batch64=steps,
                    qat_step_ratio=step_ratio)
    plain = model
    plain.eval()
    qat.eval()
    start = time.perf_counter()
    int8 = algorithm.convert()
    convert_s = time.perf_counter() - start
    paths = {k: os.path.join(tmp, f'{name}-{k}.pt2') for k in ('fp32', 'int8')}
    save_program(WithPreprocessing(plain, plain.data_preprocessor), shape,
                 paths['fp32'])
    save_program(WithPreprocessing(int8.net, algorithm.data_preprocessor),
                 shape, paths['int8'])
    sizes = {k: os.path.getsize(p) for k, p in paths.items()}
    images = torch.rand(32, *shape[1:]) * 255
    programs = {'fp32_eager': load_program(paths['fp32']),
                'fp32_compiled': load_program(paths['fp32'], compile=True),
                'int8_compiled': load_program(paths['int8'], compile=True)}
    start = time.perf_counter()
    with torch.no_grad():
        for program in programs.values():
            program(images)  # compiles
    compile_s = time.perf_counter() - start

    def run(program):
        def forward():
            with torch.no_grad():
                program(images)
        return forward
    latency = interleaved_medians({k: run(p) for k, p in programs.items()},
                                  repeats)
    with torch.no_grad():  # the compiled int8 kernels vs the reference ops
        agree = (programs['int8_compiled'](images).argmax(1) ==
                 load_program(paths['int8'])(images).argmax(1)).float().mean()
    return dict(
        input_shape=list(shape), bytes=sizes,
        size_ratio=round(sizes['int8'] / sizes['fp32'], 3),
        latency_ms_batch32=latency,
        int8_vs_fp32_eager=round(latency['int8_compiled'] /
                                 latency['fp32_eager'], 3),
        int8_vs_fp32_compiled=round(latency['int8_compiled'] /
                                    latency['fp32_compiled'], 3),
        train_step_ms_batch64=steps,
        qat_step_ratio=step_ratio,
        convert_s=round(convert_s, 1), first_calls_s=round(compile_s, 1),
        int8_compiled_vs_eager_argmax=round(float(agree), 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu', help='cpu, or cuda for '
                        'the training steps alone (3.)')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    warnings.filterwarnings('ignore')
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: measure(name.split()[0], config, args.repeats, tmp,
                                 args.device)
                   for name, config in CONFIGS.items()}
    print(json.dumps(dict(benchmark='qat_speed', device=args.device,
                          threads=args.threads, results=results,
                          machine=machine())))


if __name__ == '__main__':
    main()
