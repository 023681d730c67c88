#!/usr/bin/env python
r"""Export a subnet of a trained supernet as a model of its own.

Writes OUT_DIR/subnet.yaml (the architecture), OUT_DIR/subnet.pth (its
weights, sliced from the supernet) and OUT_DIR/subnet_config.py (a plain
training config for it: retrain from scratch, or fine-tune with
--load-from OUT_DIR/subnet.pth).

Examples:
    python tools/export_subnet.py configs/nas/bignas/bignas_resnet_digits.py \
        work_dirs/bignas_resnet_digits/epoch_30.pth --subnet min --out-dir work_dirs/min_subnet
    python tools/test.py work_dirs/min_subnet/subnet_config.py work_dirs/min_subnet/subnet.pth
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import (add_export_arguments,  # noqa: E402
                           config_checkpoint_parser, run_cli)


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the supernet (BigNAS)')
    parser.add_argument('--subnet', default='max',
                        help='max, min, or a YAML file with a subnet config')
    add_export_arguments(parser)
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.export import export_subnet
    paths = export_subnet(args.config, args.checkpoint, args.subnet,
                          args.out_dir, args.calib_iters)
    for kind, path in paths.items():
        print(f'gml: wrote {kind}: {path}')


if __name__ == '__main__':
    run_cli(main, 'export_subnet.py')
