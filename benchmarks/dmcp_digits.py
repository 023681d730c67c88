"""DMCP on the digits: a 50%-FLOPs pruned ResNet vs the unpruned one.

Usage: python benchmarks/dmcp_digits.py [--seeds 0 1 2] [--target 50%]
For every seed: trains the unpruned baseline, trains DMCP
(`configs/pruning/dmcp/dmcp_resnet_digits.py`, target `--target`), exports
its expected architecture, then trains the pruned model from scratch
and fine-tunes it from the exported weights, all with the baseline's
30-epoch schedule. Prints one JSON line with every accuracy, the pruned
models' counted MFLOPs and the mean margin to the baseline.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _tools import tool, train  # noqa: E402

BASELINE = 'configs/baseline/digits_resnet.py'
DMCP = 'configs/pruning/dmcp/dmcp_resnet_digits.py'


def one_seed(seed, tmp, target):
    start = time.perf_counter()
    result = dict(baseline=train(BASELINE, seed, f'{tmp}/base{seed}'))
    dmcp_dir = f'{tmp}/dmcp{seed}'
    result['dmcp_supernet_max'] = train(
        DMCP, seed, dmcp_dir,
        f'algorithm.algorithm_cfg.target_flops={target}')
    out = tool('export_pruned.py', f'{dmcp_dir}/{os.path.basename(DMCP)}',
               f'{dmcp_dir}/epoch_30.pth',
               '--subnet', 'expected', '--out-dir', f'{dmcp_dir}/pruned')
    mflops = re.search(r'pruned model ([0-9.]+) MFLOPs \(target ([0-9.]+), '
                       r'full model ([0-9.]+)', out)
    result.update(pruned_mflops=float(mflops.group(1)),
                  target_mflops=float(mflops.group(2)),
                  full_mflops=float(mflops.group(3)))
    pruned_cfg = f'{dmcp_dir}/pruned/pruned_config.py'
    result['pruned_scratch'] = train(pruned_cfg, seed, f'{tmp}/scratch{seed}')
    result['pruned_finetune'] = train(
        pruned_cfg, seed, f'{tmp}/ft{seed}',
        f'load_from={dmcp_dir}/pruned/pruned.pth')
    result['wall_s'] = round(time.perf_counter() - start, 1)
    print(json.dumps(dict(seed=seed, **result)), file=sys.stderr)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--target', default='50%',
                        help="target_flops: MFLOPs or a percentage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_seed(seed, tmp, args.target) for seed in args.seeds]
    keys = ('baseline', 'dmcp_supernet_max', 'pruned_scratch',
            'pruned_finetune', 'pruned_mflops')
    summary = {k: dict(values=[r[k] for r in runs],
                       mean=round(statistics.mean(r[k] for r in runs), 3))
               for k in keys}
    for k in ('pruned_scratch', 'pruned_finetune'):
        summary[k]['margin_mean'] = round(statistics.mean(
            r[k] - r['baseline'] for r in runs), 2)
    print(json.dumps(dict(
        benchmark='dmcp_digits', seeds=args.seeds, target=args.target,
        target_mflops=runs[0]['target_mflops'],
        full_mflops=runs[0]['full_mflops'], results=summary,
        wall_s=[r['wall_s'] for r in runs], machine=machine())))


if __name__ == '__main__':
    main()
