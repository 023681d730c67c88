#!/usr/bin/env python
r"""Evolution search for the best subnets of a trained supernet.

Candidates are scored on the validation set after recalibrating their BN
statistics; settings come from the config's `subnet_search` dict (pool
size, top-k, mutations, crossovers, mutate_prob, generations, FLOPs
`constraints`, `pareto` with `pareto_step`). The search state is saved after
every generation; --resume continues it. Writes WORK_DIR/results.json,
WORK_DIR/best_subnet.yaml and the exported best subnet (or one per Pareto
bucket): subnet.yaml, subnet.pth (sliced weights) and subnet_config.py.

Examples:
    python tools/search_subnet.py configs/nas/bignas/bignas_resnet_digits.py \
        work_dirs/bignas_resnet_digits/epoch_30.pth --work-dir work_dirs/digits_search
    python tools/test.py work_dirs/digits_search/best/subnet_config.py \
        work_dirs/digits_search/best/subnet.pth
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import config_checkpoint_parser, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the supernet (BigNAS)')
    parser.add_argument('--work-dir', help='where the search state and '
                        'results go (default work_dirs/<config>_search)')
    parser.add_argument('--resume', action='store_true',
                        help='continue the search saved in --work-dir')
    parser.add_argument('--device', help='cpu or cuda (default: cuda when '
                        'available)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config keys, e.g. '
                        'subnet_search.max_generations=5')
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.search_subnet import search_subnet
    from gml.utils.config import parse_cfg_options
    result = search_subnet(args.config, args.checkpoint, args.work_dir,
                           parse_cfg_options(args.cfg_options),
                           resume=args.resume, device=args.device)
    best, units = result['best'], result['units']
    print(f"gml: best subnet: score {best['score']:.4g}, "
          f"{best['flops']:.4g} {units}, {best['params']:.4g} "
          f"{units[:-5]}params ({result['evaluations']} subnets scored)")
    for entry in result['pareto'] or []:
        print(f"gml: pareto: {entry['flops']:10.4g} {units}  "
              f"score {entry['score']:.4g}")
    for kind, path in result['paths'].items():
        print(f'gml: wrote {kind}: {path}')


if __name__ == '__main__':
    run_cli(main, 'search_subnet.py')
