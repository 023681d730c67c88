#!/usr/bin/env python
r"""Save the model an algorithm wraps as a plain checkpoint.

The result loads into the plain model config with no gml code, e.g. the
distilled student into the student's own config:

    python tools/export_model.py configs/kd/kd/kd_digits.py \
        work_dirs/kd_digits/epoch_10.pth work_dirs/kd_digits/student.pth
    python tools/test.py configs/kd/digits_student.py work_dirs/kd_digits/student.pth
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import config_checkpoint_parser, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the algorithm')
    parser.add_argument('output', help='where to write the plain checkpoint')
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.export import export_wrapped_model
    from gml.utils.progress import START_DELAY, progress_status
    with progress_status(f'copying the wrapped model of {args.checkpoint}',
                         start_delay=START_DELAY):
        path = export_wrapped_model(args.config, args.checkpoint, args.output)
    print(f'gml: wrote {path}')


if __name__ == '__main__':
    run_cli(main, 'export_model.py')
