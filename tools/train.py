#!/usr/bin/env python
"""Train a model, or an algorithm wrapping one, from an mmengine config.

Examples:
    python tools/train.py configs/baseline/digits_resnet.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=5
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
    parser.add_argument('config', help='training config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or without a value from '
                        'the latest checkpoint in the work dir')
    parser.add_argument('--load-from', help='initialise weights from this '
                        'checkpoint (no optimizer state)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (CUDA only)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main():
    args = parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    from gml.apis import prepare_config, train
    from gml.utils.config import parse_cfg_options
    cfg = prepare_config(args.config, work_dir=args.work_dir,
                         cfg_options=parse_cfg_options(args.cfg_options),
                         resume=args.resume, amp=args.amp,
                         launcher=args.launcher, load_from=args.load_from)
    metrics = train(cfg)
    from gml.apis.distributed import is_first_process
    if is_first_process() and metrics:
        summary = ', '.join(f'{k}={v:.2f}' for k, v in sorted(metrics.items()))
        print(f'gml: final validation metrics: {summary}')
        print(f'gml: work dir: {cfg.work_dir}')


if __name__ == '__main__':
    run_cli(main, 'train.py')
