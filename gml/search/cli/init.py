"""search-init: write a search config to start from.

Examples:
  search-init                          # commented template -> search_config.yaml
  search-init my_search.yaml
  search-init digits.yaml --example digits   # runnable: grid on the digits baseline
  search-run digits.yaml                     # (from the gml repository root)
"""
import argparse
import os

from ...errors import ConfigError
from ...utils.cli import run_cli

EXAMPLES = {'template': 'template.yaml', 'digits': 'digits.yaml'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='search-init', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('path', nargs='?', default='search_config.yaml',
                        help='file to write (default search_config.yaml)')
    parser.add_argument('--example', choices=sorted(EXAMPLES),
                        default='template',
                        help='template: every key, commented; digits: a '
                        'runnable grid search on the digits baseline')
    parser.add_argument('--force', action='store_true',
                        help='overwrite an existing file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.path.exists(args.path) and not args.force:
        raise ConfigError(f'{args.path} exists; choose another path or pass '
                          '--force')
    source = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'examples', EXAMPLES[args.example])
    with open(source) as f:
        text = f.read()
    folder = os.path.dirname(args.path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(args.path, 'w') as f:
        f.write(text)
    print(f'wrote {args.path} ({args.example}); start it with '
          f'`search-run {args.path}`')
    return 0


def entry() -> None:
    run_cli(main, 'search-init', uses_mmengine=False)


if __name__ == '__main__':
    entry()
