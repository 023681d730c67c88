"""Running a command-line entry point with gml's error conventions."""
import sys
from typing import Callable

from ..errors import GMLError

USER_ERROR_EXIT = 2


def run_cli(main: Callable[[], int | None], prog: str) -> None:
    """Call ``main``; a GMLError prints one line to stderr and exits 2."""
    try:
        code = main()
    except GMLError as exc:
        print(f'{prog}: error: {exc}', file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    except KeyboardInterrupt:
        print(f'{prog}: interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
