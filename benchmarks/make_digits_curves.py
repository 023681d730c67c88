"""Produce real learning curves for the assessor benchmark.

Trains the digits baseline (``configs/baseline/digits_resnet.py``) once per
hyper-parameter setting, sequentially, for ``--epochs`` epochs with a
validation pass after every epoch, and writes the per-epoch validation top-1
accuracy (percent) of every run to
``benchmarks/data/digits_learning_curves.json``.

Usage: python benchmarks/make_digits_curves.py [--epochs 20] [--out PATH]
       [--limit N]   (N runs only, for a quick look)
       [--threads 1] (torch/OpenMP threads per run)

The file is rewritten after every run, and runs already in it (same
hyper-parameters, epochs and threads) are kept, so an interrupted
generation continues where it stopped (delete the file to start afresh).

The grid crosses the learning rate with the weight decay and the network
width (``base_channels`` 16 is the baseline, 8 halves every stage); the
cosine schedule is shortened to the epoch count so each run is a complete
schedule. 16 runs; the stored file took 56-139 s per run (22 minutes in
all) with one thread per run on a 2-core machine shared with other jobs.
Each run uses one thread by default: on that machine, two OpenMP threads per
run were observed to slow training down 30-50 times.
"""
import argparse
import datetime
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = 'configs/baseline/digits_resnet.py'
LRS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def grid():
    """The runs, in a fixed order: (lr, weight_decay, base_channels)."""
    runs = [(lr, 5e-4, 16) for lr in LRS]
    runs += [(lr, 5e-3, 16) for lr in LRS]
    runs += [(lr, 5e-4, 8) for lr in (0.01, 0.1, 0.3, 1.0)]
    return runs


def cfg_options(lr, weight_decay, width, epochs):
    return [
        f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
        f'optim_wrapper.optimizer.lr={lr}',
        f'optim_wrapper.optimizer.weight_decay={weight_decay}',
        f'param_scheduler.1.end={epochs}',
        f'model.backbone.base_channels={width}',
        f'model.backbone.stem_channels={width}',
        # ResNet-18 on CIFAR layout: the last stage has 8x base channels.
        f'model.head.in_channels={8 * width}',
        'default_hooks.checkpoint.interval=1000',
        'default_hooks.checkpoint.save_best=None',
    ]


def read_curve(work_dir):
    """Validation top-1 per epoch from mmengine's scalars.json."""
    files = glob.glob(os.path.join(work_dir, '*', 'vis_data', 'scalars.json'))
    if len(files) != 1:
        raise RuntimeError(f'expected one scalars.json under {work_dir}, '
                           f'found {files}')
    by_step = {}
    with open(files[0]) as f:
        for line in f:
            rec = json.loads(line)
            if 'accuracy/top1' in rec:
                by_step[int(rec['step'])] = float(rec['accuracy/top1'])
    steps = sorted(by_step)
    if steps != list(range(1, len(steps) + 1)):
        raise RuntimeError(f'validation steps are not 1..n: {steps}')
    return [round(by_step[s], 4) for s in steps]


def write(path, records, args, started):
    data = dict(
        description='Validation top-1 accuracy (percent) after every epoch '
        'of the gml digits baseline (narrow ResNet-18, scikit-learn digits '
        '16x16, SGD nesterov momentum 0.9, 2 warm-up epochs then cosine to '
        'the last epoch, seed 0), one run per hyper-parameter setting.',
        metric='accuracy/top1', unit='percent', mode='maximize',
        epochs=args.epochs, config=CONFIG, threads_per_run=args.threads,
        produced_by='python benchmarks/make_digits_curves.py --epochs '
        f'{args.epochs} --threads {args.threads}',
        date=started, machine=machine(),
        note='runs are sequential; wall_s is the whole training process and '
        'depends on what else the machine was running',
        total_wall_s=round(sum(r['wall_s'] for r in records), 1),
        runs=records)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)


def previous_runs(path, args):
    """Runs of an earlier, interrupted generation that can be kept."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, None
    if (data.get('epochs') != args.epochs
            or data.get('threads_per_run') != args.threads):
        return {}, None
    done = {}
    for rec in data.get('runs', []):
        p = rec['params']
        done[(p['lr'], p['weight_decay'], p['base_channels'])] = rec
    return done, data.get('date')


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--out', default=os.path.join(
        REPO, 'benchmarks', 'data', 'digits_learning_curves.json'))
    parser.add_argument('--limit', type=int, default=None)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    runs = grid()[:args.limit]
    done, started = previous_runs(args.out, args)
    if started is None:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds')
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    records = []
    for i, (lr, wd, width) in enumerate(runs):
        if (lr, wd, width) in done:
            records.append(dict(done[(lr, wd, width)], id=i))
            print(f'[{i + 1}/{len(runs)}] lr={lr} wd={wd} width={width}: '
                  'kept from the earlier generation', flush=True)
            continue
        work_dir = tempfile.mkdtemp(prefix='gml_curve_')
        options = cfg_options(lr, wd, width, args.epochs)
        cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
               work_dir, '--cfg-options'] + options
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                              env=env)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            shutil.rmtree(work_dir, ignore_errors=True)
            sys.exit(f'run {i} failed:\n{proc.stderr[-3000:]}')
        curve = read_curve(work_dir)
        shutil.rmtree(work_dir, ignore_errors=True)
        if len(curve) != args.epochs:
            sys.exit(f'run {i}: {len(curve)} validation points, expected '
                     f'{args.epochs}')
        records.append(dict(
            id=i, params=dict(lr=lr, weight_decay=wd, base_channels=width),
            val_top1=curve, wall_s=round(wall, 1),
            finished=datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'),
            command=f'OMP_NUM_THREADS={args.threads} python tools/train.py '
            f'{CONFIG} --work-dir WORK_DIR --cfg-options '
            + shlex.join(options)))
        write(args.out, records, args, started)
        print(f'[{i + 1}/{len(runs)}] lr={lr} wd={wd} width={width}: '
              f'final {curve[-1]:.2f}, best {max(curve):.2f}, {wall:.0f} s',
              flush=True)
    write(args.out, records, args, started)
    print(f'wrote {len(records)} curves to {args.out}')


if __name__ == '__main__':
    main()
