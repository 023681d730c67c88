#!/usr/bin/env python
r"""Store a trained model in MESS form: every shared kernel as an index
into a reference conv's kernels and its alpha (and beta).

Writes OUT (a .mess file: header, bit-packed indices, alpha/beta, the
reference kernels and the rest of the state dict, with a checksum) and
prints its size against the float32 weights: the whole file, the shared
kernels (vs float32 and vs 8-bit) and all shared convs with their
references. Rebuild a checkpoint with tools/mess_decompress.py.

Examples:
    python tools/mess_compress.py configs/baseline/digits_resnet.py \
        work_dirs/digits_resnet/epoch_30.pth --version v2qq --qb 8 \
        --out work_dirs/mess/digits_v2qq.mess
    python tools/mess_compress.py configs/mess/mess_v2qq_resnet_digits.py \
        work_dirs/mess_v2qq_resnet_digits/epoch_10.pth --out retrained.mess
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import config_checkpoint_parser, run_cli  # noqa: E402

VERSIONS = ('v2', 'v2q', 'v2qq', 'v2nb', 'v2f')
POINTWISE = {'auto': 'auto', 'on': True, 'off': False}


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the trained model')
    parser.add_argument('--out', required=True, help='the .mess file')
    parser.add_argument('--version', default='v2qq',
                        help=f'{", ".join(VERSIONS)} (default: v2qq)')
    parser.add_argument('--qb', type=int, default=8,
                        help='bits of the weights (v2qq, v2f; default 8)')
    parser.add_argument('--qba', type=int, default=8,
                        help='bits of alpha (v2q, v2qq, v2f; default 8)')
    parser.add_argument('--qbb', type=int, default=8,
                        help='bits of beta (v2q, v2qq, v2f; default 8)')
    parser.add_argument('--pointwise', choices=sorted(POINTWISE),
                        default='auto', help='share 1x1 convs: auto (only '
                        'in models with depthwise convs), on, off')
    parser.add_argument('--np', action='store_true',
                        help='leave the 1x1 convs alone (= --pointwise off)')
    parser.add_argument('--slice-size', type=int, default=8,
                        help='input channels per pointwise slice (default 8)')
    return parser.parse_args(argv)


def _kib(size):
    return f'{size:,} bytes ({size / 1024:.1f} KiB)'


def main():
    args = parse_args()
    import gml.models.mess  # noqa: F401 (torch & co. load before the timing)
    from gml.apis.mess import compress
    from gml.utils.progress import START_DELAY, progress_status
    pointwise = False if args.np else POINTWISE[args.pointwise]
    with progress_status(f'MESS {args.version}: searching the shared kernels '
                         f'of {args.checkpoint}', start_delay=START_DELAY):
        result = compress(args.config, args.checkpoint, args.out,
                          args.version, args.qb, args.qba, args.qbb,
                          pointwise, args.slice_size)
    for name, count in result['references'].items():
        print(f'gml: reference {name}: {count} kernels')
    kinds = result['kernels']
    for kind, k in kinds.items():
        if kind != 'all' and len(kinds) == 2:
            continue  # one kind: its line is the total's
        label = 'shared kernels' if kind == 'all' else f'{kind} kernels'
        print(f"gml: {label}: {k['pieces']:,} in {k['layers']} layers, "
              f"{k['bits_per_piece']:.2f} bits each, {_kib(k['stored_bytes'])}"
              f": {k['ratio_fp32']:.2f}x smaller than float32 "
              f"({_kib(k['fp32_bytes'])}), {k['ratio_int8']:.2f}x smaller "
              f"than 8-bit")
    print(f"gml: shared convs with references: "
          f"{_kib(result['conv_stored_bytes'])}, "
          f"{result['conv_ratio']:.2f}x smaller than float32")
    print(f"gml: wrote {args.out}: {_kib(result['file_bytes'])}, "
          f"{result['file_ratio']:.2f}x smaller than the float32 state dict "
          f"({_kib(result['state_fp32_bytes'])})")
    print('gml: summary: ' + json.dumps(result, sort_keys=True))


if __name__ == '__main__':
    run_cli(main, 'mess_compress.py')
