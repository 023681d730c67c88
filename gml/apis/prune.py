"""After DMCP training: draw the pruned architectures, export one of them.

``sample_pruned`` writes the expected-sampling architecture and the direct
samples near the FLOPs target; ``export_pruned`` turns one architecture
into a really smaller model: its weights (``pruned.pth``), a config that
retrains or fine-tunes it (``pruned_config.py``) and a ``torch.export``
program (``pruned_model.pt2``) that runs with nothing but torch.
"""
import os
from typing import Optional, Tuple

from ..errors import ConfigError
from ..utils.files import atomic_path, write_json, write_yaml
from ..utils.progress import START_DELAY, progress_status
from ..utils.weights import write_checkpoint
from .export import (build_config_algorithm, calibration_progress,
                     plain_training_config)
from .program import WithPreprocessing, save_program


def load_pruner(config, checkpoint: Optional[str]) -> Tuple[object, object]:
    """The config and the DMCP algorithm of ``config`` (a path or a
    Config) with the weights and architecture parameters of
    ``checkpoint``."""
    from ..algorithms.pruning import DMCP
    from ..utils.weights import read_state_dict
    cfg, algorithm = build_config_algorithm(
        config, 'a DMCP pruner', lambda a: isinstance(a, DMCP),
        'is not a channel pruner (gml.DMCP)')
    if checkpoint is not None:
        try:
            algorithm.load_state_dict(read_state_dict(checkpoint))
        except RuntimeError as exc:
            raise ConfigError(f'{checkpoint}: does not fit {cfg.filename} '
                              f'({str(exc).splitlines()[0]} ...)') from None
    algorithm.eval()
    return cfg, algorithm


def sample_pruned(config, checkpoint: str, out_dir: str,
                  num: Optional[int] = None,
                  tolerance: Optional[float] = None) -> dict:
    """Write ``expected.yaml``, ``sample_<i>.yaml`` (direct samples within
    ``tolerance`` of the target) and ``archs.json`` (every architecture's
    MFLOPs, the target, the keep probabilities) to ``out_dir``."""
    with progress_status(f'loading the DMCP model with {checkpoint}',
                         start_delay=START_DELAY):
        _, algorithm = load_pruner(config, checkpoint)
    with progress_status('drawing architectures near the FLOPs target',
                         start_delay=START_DELAY):
        archs = algorithm.final_archs(num, tolerance)
    os.makedirs(out_dir, exist_ok=True)
    write_yaml(os.path.join(out_dir, 'expected.yaml'),
               archs['expected']['subnet'])
    for index, sample in enumerate(archs['samples']):
        write_yaml(os.path.join(out_dir, f'sample_{index}.yaml'),
                   sample['subnet'])
    summary = dict(target_mflops=archs['target'],
                   tolerance=archs['tolerance'],
                   full_mflops=algorithm.max_flops,
                   min_mflops=algorithm.min_flops,
                   expected_mflops=float(algorithm.mutator.expected_flops()),
                   expected=archs['expected'], samples=archs['samples'],
                   tries=archs['tries'],
                   keep_probabilities=algorithm.mutator.marginal_table())
    write_json(os.path.join(out_dir, 'archs.json'), summary)
    return summary


def _read_subnet(algorithm, subnet: str) -> dict:
    import yaml
    if subnet == 'expected':  # as sample_pruned writes it
        return algorithm.final_archs(num=0)['expected']['subnet']
    if subnet in ('max', 'min'):
        return algorithm.mutator.sample(subnet)
    if not os.path.isfile(subnet):
        raise ConfigError(f'--subnet: expected max, min, expected or a YAML '
                          f'file, found {subnet!r}')
    with open(subnet) as f:
        chosen = yaml.safe_load(f)
    algorithm.mutator.check_subnet(chosen)
    return dict(algorithm.mutator.full_widths(), **chosen)


def export_pruned(config, checkpoint: str, subnet: str, out_dir: str,
                  calib_iters: int = 16, seed: int = 0) -> dict:
    """Export the pruned model of ``subnet`` (``max``, ``min``,
    ``expected`` or a YAML file written by :func:`sample_pruned`).

    BN statistics are recalibrated for the subnet on ``calib_iters``
    training batches (0: keep the supernet's). Writes ``pruned.yaml``,
    ``pruned.pth``, ``pruned_config.py`` and ``pruned_model.pt2`` to
    ``out_dir``; returns their paths and the pruned model's MFLOPs.
    """
    from ..models.ops.flops import count_flops
    with progress_status(f'loading the DMCP model with {checkpoint}',
                         start_delay=START_DELAY):
        cfg, algorithm = load_pruner(config, checkpoint)
    mutator = algorithm.mutator
    chosen = _read_subnet(algorithm, subnet)
    if calib_iters:
        from mmengine.runner.utils import set_random_seed

        from ..engine.subnet_eval import calibrate_subnet, calibration_loader
        loader = calibration_loader(cfg, seed)
        set_random_seed(seed)
        with calibration_progress(loader, calib_iters) as bar:
            calibrate_subnet(algorithm, chosen, bar.iterate(loader),
                             calib_iters, sync=False)
    algorithm.set_subnet(None)
    model, spec = algorithm.cut(chosen)
    model.eval()
    shape = mutator.input_shape
    flops = count_flops(model, shape, units='M')['flops']
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(yaml=os.path.join(out_dir, 'pruned.yaml'),
                 checkpoint=os.path.join(out_dir, 'pruned.pth'),
                 config=os.path.join(out_dir, 'pruned_config.py'),
                 program=os.path.join(out_dir, 'pruned_model.pt2'))
    write_yaml(paths['yaml'], chosen)
    write_checkpoint(paths['checkpoint'], model.state_dict(), subnet=chosen,
                     mflops=flops, exported_from=os.path.abspath(checkpoint))
    model_cfg = dict(type='gml.PrunedModel',
                     model=cfg.algorithm.get('model') or cfg.model,
                     **spec)
    with atomic_path(paths['config']) as tmp:
        plain_training_config(cfg, model_cfg).dump(tmp)
    with progress_status(f"exporting the pruned model to {paths['program']}"):
        save_program(WithPreprocessing(model, algorithm.data_preprocessor),
                     shape, paths['program'], min_batch=2)
    return dict(paths, mflops=flops, target_mflops=algorithm.target_flops,
                full_mflops=algorithm.max_flops)
