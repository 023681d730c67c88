#!/usr/bin/env python
r"""Evaluate a checkpoint on a config's test set.

Examples:
    python tools/test.py configs/baseline/digits_resnet.py \
        work_dirs/digits_resnet/epoch_30.pth
    python tools/test.py CONFIG work_dirs/iao_int8/int8_model.pt2 --compile
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import add_runner_arguments, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file the checkpoint was '
                        'trained with')
    parser.add_argument('checkpoint', help='checkpoint file (.pth), or a '
                        'saved program (.pt2) of tools/export_quantized.py '
                        'or tools/export_pruned.py')
    parser.add_argument('--compile', action='store_true',
                        help='run a .pt2 program through torch.compile '
                        '(int8 programs then use int8 kernels)')
    parser.add_argument('--work-dir', help='where the test log goes')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main():
    args = parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    from gml.apis import prepare_config, test
    from gml.utils.config import parse_cfg_options
    cfg = prepare_config(args.config, work_dir=args.work_dir,
                         cfg_options=parse_cfg_options(args.cfg_options),
                         launcher=args.launcher)
    metrics = test(cfg, args.checkpoint, args.compile)
    from gml.apis.distributed import is_first_process
    if is_first_process():
        summary = ', '.join(f'{k}={v:.2f}' for k, v in sorted(metrics.items()))
        print(f'gml: test metrics: {summary}')


if __name__ == '__main__':
    run_cli(main, 'test.py')
