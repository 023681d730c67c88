#!/usr/bin/env python
r"""Draw the pruned architectures of a DMCP-trained model.

Writes to OUT_DIR: expected.yaml (the expected-sampling architecture,
brought within the tolerance of the FLOPs target), sample_<i>.yaml (Markov
direct samples within the tolerance; arch_sample_num of them by default)
and archs.json (every architecture's MFLOPs, the target, the keep
probabilities of every channel group).

Example:
    python tools/sample_pruned.py configs/pruning/dmcp/dmcp_resnet_digits.py \
        work_dirs/dmcp_resnet_digits/epoch_30.pth \
        --out-dir work_dirs/dmcp_archs
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import config_checkpoint_parser, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the DMCP-trained model')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--num', type=int, default=None,
                        help='direct samples (default: arch_sample_num)')
    parser.add_argument('--tolerance', type=float, default=None,
                        help='relative FLOPs tolerance (default: the '
                        "config's sample_tolerance, 0.03)")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.prune import sample_pruned
    summary = sample_pruned(args.config, args.checkpoint, args.out_dir,
                            args.num, args.tolerance)
    target = summary['target_mflops']
    print(f"gml: target {target:.4g} MFLOPs (full model "
          f"{summary['full_mflops']:.4g}); expected architecture "
          f"{summary['expected']['mflops']:.4g} MFLOPs; "
          f"{len(summary['samples'])} direct samples within "
          f"{summary['tolerance']:.0%} ({summary['tries']} drawn)")
    print(f'gml: wrote {args.out_dir}/expected.yaml, sample_*.yaml, '
          'archs.json')


if __name__ == '__main__':
    run_cli(main, 'sample_pruned.py')
