#!/usr/bin/env python
r"""Export a pruned architecture of a DMCP-trained model as a smaller model.

Writes to OUT_DIR: pruned.yaml (the architecture), pruned.pth (its weights:
really smaller tensors, BN recalibrated for it), pruned_config.py (a plain
training config of the pruned model: retrain it from scratch, or fine-tune
with --cfg-options load_from=OUT_DIR/pruned.pth) and pruned_model.pt2 (a
torch.export program: torch.export.load(path).module() runs it with torch
alone).

Examples:
    python tools/export_pruned.py configs/pruning/dmcp/dmcp_resnet_digits.py \
        work_dirs/dmcp_resnet_digits/epoch_30.pth --subnet expected \
        --out-dir work_dirs/dmcp_pruned
    python tools/train.py work_dirs/dmcp_pruned/pruned_config.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import (add_export_arguments,  # noqa: E402
                           config_checkpoint_parser, run_cli)


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the DMCP-trained model')
    parser.add_argument('--subnet', default='expected',
                        help='expected, max, min, or a YAML file written by '
                        'tools/sample_pruned.py')
    add_export_arguments(parser)
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.prune import export_pruned
    result = export_pruned(args.config, args.checkpoint, args.subnet,
                           args.out_dir, args.calib_iters)
    print(f"gml: pruned model {result['mflops']:.4g} MFLOPs (target "
          f"{result['target_mflops']:.4g}, full model "
          f"{result['full_mflops']:.4g})")
    for kind in ('yaml', 'checkpoint', 'config', 'program'):
        print(f'gml: wrote {kind}: {result[kind]}')


if __name__ == '__main__':
    run_cli(main, 'export_pruned.py')
