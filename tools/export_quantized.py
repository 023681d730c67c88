#!/usr/bin/env python
r"""Convert an int8 QAT checkpoint to a real int8 model and save it.

Writes to OUT_DIR: int8_model.pt2, a torch.export program with int8
weights (the data preprocessing folded in, any batch size), and
int8_model.json (backend, quantized region, int8 / fp32 layer counts,
file size). Evaluate it with tools/test.py CONFIG OUT_DIR/int8_model.pt2
(--compile runs the int8 kernels); run it anywhere with
    import torchao.quantization.pt2e, torch
    model = torch.export.load('int8_model.pt2').module()

Example:
    python tools/export_quantized.py \
        configs/qat/IAO/classification/iao_res18_digits_quantization.py \
        work_dirs/iao_res18_digits_quantization/epoch_5.pth \
        --out-dir work_dirs/iao_int8
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gml.utils.cli import config_checkpoint_parser, run_cli  # noqa: E402


def parse_args(argv=None):
    parser = config_checkpoint_parser(__doc__, 'the int8 QAT model')
    parser.add_argument('--out-dir', required=True, help='output folder')
    return parser.parse_args(argv)


def main():
    args = parse_args()
    from gml.apis.quantize import export_quantized
    summary = export_quantized(args.config, args.checkpoint, args.out_dir)
    layers = summary['layers']
    print(f"gml: int8 layers: {layers['int8']['conv']} conv, "
          f"{layers['int8']['linear']} linear; fp32: "
          f"{layers['fp32']['conv']} conv, {layers['fp32']['linear']} linear")
    print(f"gml: wrote {summary['program']} ({summary['bytes']:,} bytes)")


if __name__ == '__main__':
    run_cli(main, 'export_quantized.py')
