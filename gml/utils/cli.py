"""Running a command-line entry point with gml's error conventions."""
import signal
import sys
from typing import Callable

from ..errors import GMLError

USER_ERROR_EXIT = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``scancel``, a batch system's time limit),
    raised like Ctrl-C so that cleanup code runs: partial files are removed
    and ``search-run`` stops its trials."""


def _raise_terminated(signum, frame):
    raise Terminated()


def run_cli(main: Callable[[], int | None], prog: str,
            uses_mmengine: bool = True) -> None:
    """Call ``main``; a GMLError prints one line to stderr and exits 2.

    Ctrl-C exits 130 and SIGTERM 143 (128 + the signal), both after the
    ``finally`` blocks of ``main`` have run. A command that ``uses_mmengine``
    first imports yapf under a lock (see :mod:`gml.utils.formatter_cache`),
    so that many of them can start at once in a new environment.
    """
    signal.signal(signal.SIGTERM, _raise_terminated)
    if uses_mmengine:
        from .formatter_cache import import_yapf_locked
        import_yapf_locked()
    try:
        code = main()
    except GMLError as exc:
        print(f'{prog}: error: {exc}', file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    except Terminated:
        print(f'{prog}: terminated', file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def add_runner_arguments(parser) -> None:
    """The options train.py and test.py share: overrides and launchers."""
    import argparse
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config keys, e.g. '
                        'optim_wrapper.optimizer.lr=0.05')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                        default='none', help='how processes were started')
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def config_checkpoint_parser(doc: str, what: str = 'the algorithm'):
    """An argument parser for tools that read a config and a checkpoint of
    what it trains (more arguments are added by the caller)."""
    import argparse
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help=f'{what} config')
    parser.add_argument('checkpoint', help=f'a checkpoint of {what}')
    return parser


def add_export_arguments(parser) -> None:
    """--out-dir and --calib-iters of the tools that export a subnet."""
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--calib-iters', type=int, default=16,
                        help='training batches to recalibrate BN with')
