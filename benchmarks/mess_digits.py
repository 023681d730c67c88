"""MESS on the digits ResNet: accuracy right after the projection and after
retraining with re-projection, and the real sizes on disk.

Usage: python benchmarks/mess_digits.py [--versions v2 v2qq] [--seed 0]
       [--checkpoint work_dirs/digits_resnet/epoch_30.pth]
Starts from the trained fp32 baseline (trained here first, 30 epochs,
when --checkpoint does not exist). For every version: compresses the
baseline (tools/mess_compress.py), rebuilds and tests it (accuracy right
after projection), retrains it 10 epochs with MESSHook
(configs/mess/mess_v2qq_resnet_digits.py with the version swapped),
then rebuilds and tests the .mess file the hook wrote (accuracy after
retraining). Prints one JSON line: accuracies, sizes, ratios, indices
changed per re-projection.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _tools import REPO, accuracy, tool, train  # noqa: E402

BASELINE = 'configs/baseline/digits_resnet.py'
MESS = 'configs/mess/mess_v2qq_resnet_digits.py'


def test(checkpoint, work_dir):
    return accuracy(tool('test.py', BASELINE, checkpoint, '--work-dir',
                         work_dir, threads=1))


def retrain(version, checkpoint, seed, work):
    """Train the MESS config; return its stdout and stderr together."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    run = subprocess.run(
        [sys.executable, 'tools/train.py', MESS, '--work-dir', work,
         '--cfg-options', f'custom_hooks.0.version={version}',
         f'load_from={checkpoint}', f'randomness.seed={seed}'],
        cwd=REPO, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f'retraining {version} failed:\n{run.stderr[-3000:]}')
    return run.stdout + run.stderr


def one_version(version, checkpoint, seed, tmp):
    start = time.perf_counter()
    out = f'{tmp}/{version}.mess'
    printed = tool('mess_compress.py', BASELINE, checkpoint, '--version',
                   version, '--out', out, threads=1)
    sizes = json.loads(re.search(r'^gml: summary: (.*)$', printed,
                                 re.M).group(1))
    tool('mess_decompress.py', out, '--out', f'{tmp}/{version}.pth',
         threads=1)
    projected = test(f'{tmp}/{version}.pth', f'{tmp}/test')
    work = f'{tmp}/retrain_{version}'
    log = retrain(version, checkpoint, seed, work)
    changed = [int(n) for n in re.findall(
        r'projection after epoch \d+: (\d+) of \d+ indices', log)]
    final = f'{work}/model.mess'
    tool('mess_decompress.py', final, '--out', f'{work}/rebuilt.pth',
         threads=1)
    kernels = sizes['kernels']['all']
    return dict(
        projected_top1=projected,
        retrained_top1=test(f'{work}/rebuilt.pth', f'{tmp}/test'),
        retrained_last_val_top1=accuracy(log),
        changed_indices_per_epoch=changed, kernels=kernels['pieces'],
        bits_per_kernel=round(kernels['bits_per_piece'], 3),
        kernel_bytes=kernels['stored_bytes'],
        kernel_ratio_fp32=round(kernels['ratio_fp32'], 3),
        kernel_ratio_int8=round(kernels['ratio_int8'], 3),
        file_bytes=sizes['file_bytes'],
        file_ratio_fp32=round(sizes['file_ratio'], 3),
        retrained_file_bytes=os.path.getsize(final),
        fp32_state_bytes=sizes['state_fp32_bytes'],
        wall_s=round(time.perf_counter() - start, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--versions', nargs='+', default=['v2', 'v2qq'],
                        choices=['v2', 'v2q', 'v2qq', 'v2nb', 'v2f'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--checkpoint',
                        default='work_dirs/digits_resnet/epoch_30.pth',
                        help='the trained fp32 baseline (trained here '
                        'when missing)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if not os.path.isfile(os.path.join(REPO, checkpoint)):
            train(BASELINE, args.seed, f'{tmp}/base', threads=1)
            checkpoint = f'{tmp}/base/epoch_30.pth'
        baseline = test(checkpoint, f'{tmp}/test')
        results = {}
        for version in args.versions:
            results[version] = one_version(version, checkpoint, args.seed,
                                           tmp)
            print(json.dumps(dict(version=version, **results[version])),
                  file=sys.stderr)
    print(json.dumps(dict(
        benchmark='mess_digits', seed=args.seed, checkpoint=args.checkpoint,
        baseline_top1=baseline,
        fp32_state_bytes=next(iter(results.values()))['fp32_state_bytes'],
        results=results, machine=machine())))


if __name__ == '__main__':
    main()
