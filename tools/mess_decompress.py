#!/usr/bin/env python
r"""Rebuild a plain checkpoint from a .mess file of tools/mess_compress.py.

The checkpoint holds the state dict of the projected model (every shared
kernel rebuilt as alpha * r_k + beta), so the usual tools take it:

Example:
    python tools/mess_decompress.py work_dirs/mess/digits_v2qq.mess \
        --out work_dirs/mess/digits_v2qq.pth
    python tools/test.py configs/baseline/digits_resnet.py \
        work_dirs/mess/digits_v2qq.pth
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import run_cli  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mess', help='a .mess file')
    parser.add_argument('--out', required=True, help='the checkpoint to '
                        'write (.pth)')
    return parser.parse_args(argv)


def main():
    args = parse_args()
    import gml.models.mess  # noqa: F401 (torch & co. load before the timing)
    from gml.apis.mess import decompress
    from gml.utils.progress import START_DELAY, progress_status
    with progress_status(f'rebuilding the weights of {args.mess}',
                         start_delay=START_DELAY):
        header = decompress(args.mess, args.out)
    options = header['options']
    print(f"gml: {args.mess}: {header['file_bytes']:,} bytes, version "
          f"{options['version']}, {len(header['layers'])} shared and "
          f"{len(header['references'])} reference convs")
    print(f'gml: wrote {args.out}')


if __name__ == '__main__':
    run_cli(main, 'mess_decompress.py')
