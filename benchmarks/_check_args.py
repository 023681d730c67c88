"""Check a benchmark's command line without running the benchmark.

Usage: python benchmarks/_check_args.py SCRIPT [ARGS...]

Runs SCRIPT as ``__main__`` up to its ``parser.parse_args()``: exit 0 when
the parser accepts ARGS, argparse's own message and exit 2 when it does
not. ``gpu_checks.sh`` uses it on a machine without CUDA, so a mistyped
option is found before device time is spent.
"""
import argparse
import runpy
import sys


class _Accepted(Exception):
    """Raised once the script's parser has accepted the arguments."""


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[2])
    script, args = sys.argv[1], sys.argv[2:]
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse(self, args, namespace)  # argparse exits 2 on a mistake
        raise _Accepted

    argparse.ArgumentParser.parse_args = parse_then_stop
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name='__main__')
    except _Accepted:
        print(f'{script}: arguments accepted: {" ".join(args)}')
        return
    sys.exit(f'{script}: ended without parsing its arguments')


if __name__ == '__main__':
    main()
