"""Step-time overhead of teacher-student distillation.

Usage: python benchmarks/kd_overhead.py [--config C] [--batch 64] [--repeats 30]
Times, interleaved in one process on the same batch: a plain training step
of the student, a no-grad forward of the teacher, and a training step of the
distillation algorithm. Prints one JSON line with the medians and the ratio
KD step / (student step + teacher forward) (target <= 1.10).
"""
import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402
from _timing import interleaved_medians  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default='configs/kd/kd/kd_digits.py')
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--size', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    args = parser.parse_args()

    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope
    from mmpretrain.structures import DataSample

    from gml.registry import build_algorithm, build_model
    from gml.utils.config import load_config
    cfg = load_config(os.path.join(REPO, args.config))
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        algo_cfg = dict(cfg.algorithm)
        algo_cfg['distill_cfg'] = dict(algo_cfg['distill_cfg'])
        teacher_cfg = dict(algo_cfg['distill_cfg']['teacher'])
        teacher_cfg.pop('ckpt_path', None)  # timing needs no trained weights
        algo_cfg['distill_cfg']['teacher'] = teacher_cfg
        algorithm = build_algorithm(algo_cfg, default_model=cfg.model)
        student = build_model(cfg.model)
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('epoch', 10**6)  # past
    # any pretraining stage: time the distillation step itself
    algorithm.to(args.device), student.to(args.device)
    teacher = algorithm.distiller.teachers[0]
    algorithm.train(), student.train()
    data = dict(inputs=[torch.randint(0, 255, (3, args.size, args.size))
                        .float() for _ in range(args.batch)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(args.batch)])
    opt_kd = OptimWrapper(torch.optim.SGD(
        [p for p in algorithm.parameters() if p.requires_grad], lr=0.01))
    opt_st = OptimWrapper(torch.optim.SGD(student.parameters(), lr=0.01))
    inputs = student.data_preprocessor(data, False)['inputs']

    def student_step():
        student.train_step(data, opt_st)

    def teacher_forward():
        with torch.no_grad():
            teacher(inputs, mode='tensor')

    def kd_step():
        algorithm.train_step(data, opt_kd)

    med = interleaved_medians(dict(student_step=student_step,
                                   teacher_forward=teacher_forward,
                                   kd_step=kd_step), args.repeats,
                              args.device)
    ratio = med['kd_step'] / (med['student_step'] + med['teacher_forward'])
    print(json.dumps(dict(
        benchmark='kd_overhead', config=args.config, batch=args.batch,
        device=args.device,
        image_size=args.size, median_ms=med,
        ratio=round(ratio, 3), machine=machine())))


if __name__ == '__main__':
    main()
