"""Exporting the model inside an algorithm as a plain checkpoint."""
import os

from ..errors import ConfigError
from ..utils.files import atomic_path, write_yaml

PREFIX = 'model.'


def export_wrapped_model(config: str, checkpoint: str, output: str) -> str:
    """Write ``{'state_dict': ..., 'meta': ...}`` of ``algorithm.model``.

    The keys are the wrapped model's own, so the plain model config loads
    the file with mmengine alone (``load_from`` or ``tools/test.py``).
    """
    from ..utils.config import load_config
    from ..utils.weights import read_state_dict, write_checkpoint
    cfg = load_config(config)
    if cfg.get('algorithm') is None:
        raise ConfigError(f'{config}: has no `algorithm`; its checkpoints are '
                          'plain already')
    state = read_state_dict(checkpoint)
    plain = {k[len(PREFIX):]: v for k, v in state.items()
             if k.startswith(PREFIX)}
    if not plain:
        raise ConfigError(f'{checkpoint}: no `model.` weights in it; is it a '
                          f'checkpoint of {config}?')
    return write_checkpoint(output, plain,
                            exported_from=os.path.abspath(checkpoint),
                            algorithm=cfg.algorithm.get('type'))


def calibration_progress(loader, calib_iters: int):
    """A :func:`gml.utils.progress.progress_task` for recalibrating BN on
    ``calib_iters`` batches of ``loader`` (-1: all); pass the batches
    through its ``iterate``."""
    from ..utils.progress import progress_task
    try:
        total = len(loader)
    except TypeError:
        total = None
    if calib_iters >= 0:
        total = calib_iters if total is None else min(calib_iters, total)
    what = f'{total} batches' if total is not None else 'the training batches'
    return progress_task(f'recalibrating BN statistics on {what}',
                         total=total, log_every=5.0)


def build_config_algorithm(config, role: str, accepts, refusal: str):
    """The Config of ``config`` (a path or a Config) and its algorithm,
    built under the config's default scope, without its ``pretrained``
    start (the caller loads a checkpoint); ConfigError naming ``role``
    when there is no algorithm, and ``refusal`` when ``accepts(algorithm)``
    is false."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from ..registry import build_algorithm
    from ..utils.config import load_config
    from .runner import skip_start_weights
    cfg = config if isinstance(config, Config) else load_config(config)
    if cfg.get('algorithm') is None:
        raise ConfigError(f'{cfg.filename}: has no `algorithm` ({role})')
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    skip_start_weights(cfg)
    algorithm = build_algorithm(cfg.algorithm, default_model=cfg.get('model'))
    if not accepts(algorithm):
        raise ConfigError(f'{cfg.filename}: algorithm '
                          f'{type(algorithm).__name__} {refusal}')
    return cfg, algorithm


def export_subnet(config, checkpoint: str, subnet: str,
                  out_dir: str, calib_iters: int = 16, seed: int = 0) -> dict:
    """Export one subnet of a trained supernet (``algorithm.model``).

    ``subnet`` is ``'max'``, ``'min'`` or a YAML file with a configuration
    of the supernet's ``arch_space()``. Writes ``subnet.yaml`` (the
    configuration), ``subnet.pth`` (the sliced weights, plain keys) and
    ``subnet_config.py`` (the training config with the subnet as its
    ``model`` and no algorithm: retrain it from scratch, or fine-tune it
    with ``load_from``). The subnet's BN statistics are recalibrated on
    ``calib_iters`` training batches (0: keep the supernet's; -1: all),
    drawn after seeding with ``seed``, as ``tools/search_subnet.py`` scores
    subnets. ``config`` is a path or a loaded Config. Returns the paths.
    """
    import yaml

    from ..algorithms.nas.export import load_sliced_weights, subnet_model_cfg
    from ..registry import build_model
    from ..space import map_spaces
    from ..space.supernet import Supernet
    from ..utils.weights import read_state_dict, write_checkpoint
    from ..utils.progress import START_DELAY, progress_status
    with progress_status('building the supernet', start_delay=START_DELAY):
        cfg, algorithm = build_config_algorithm(
            config, 'a supernet',
            lambda a: isinstance(getattr(a, 'model', None), Supernet),
            'has no subnets to export: its model is not a supernet '
            '(arch_space(), set_subnet())')
    if subnet in ('max', 'min'):
        chosen = map_spaces(algorithm.model.arch_space(),
                            (lambda s: s.max) if subnet == 'max' else
                            (lambda s: s.min))
    else:
        if not os.path.isfile(subnet):
            raise ConfigError(f'--subnet: expected max, min or a YAML file, '
                              f'found {subnet!r}')
        with open(subnet) as f:
            chosen = yaml.safe_load(f)
    from ..space import validate_tree
    validate_tree(algorithm.model.arch_space(), chosen, 'subnet')
    model_cfg = subnet_model_cfg(cfg.algorithm.get('model') or cfg.model,
                                 chosen)
    model = build_model(model_cfg)
    supernet = read_state_dict(checkpoint)
    load_sliced_weights(model, {k[len(PREFIX):]: v for k, v in
                                supernet.items() if k.startswith(PREFIX)})
    if calib_iters:
        from mmengine.runner.utils import set_random_seed

        from ..engine.bn_calibration import recalibrate_bn
        from ..engine.subnet_eval import calibration_loader
        loader = calibration_loader(cfg, seed)
        set_random_seed(seed)

        def forward(net, batch):
            net.extract_feat(net.data_preprocessor(batch, True)['inputs'])

        with calibration_progress(loader, calib_iters) as bar:
            recalibrate_bn(model, bar.iterate(loader), calib_iters,
                           forward=forward)
    paths = dict(yaml=os.path.join(out_dir, 'subnet.yaml'),
                 checkpoint=os.path.join(out_dir, 'subnet.pth'),
                 config=os.path.join(out_dir, 'subnet_config.py'))
    write_yaml(paths['yaml'], chosen)
    write_checkpoint(paths['checkpoint'], model.state_dict(), subnet=chosen,
                     exported_from=os.path.abspath(checkpoint))
    with atomic_path(paths['config']) as tmp:
        plain_training_config(cfg, model_cfg).dump(tmp)
    return paths


def plain_training_config(cfg, model_cfg: dict):
    """``cfg`` with ``model_cfg`` as its model and no algorithm (nor the
    subnet evaluation hook): a config that trains the model alone."""
    import copy

    from mmengine.config import Config
    plain = copy.deepcopy(cfg.to_dict())
    plain.pop('algorithm', None)
    plain['model'] = model_cfg
    plain['custom_hooks'] = [
        h for h in plain.get('custom_hooks') or []
        if 'DynamicDistEvalHook' not in str(h.get('type'))]
    plain['find_unused_parameters'] = False
    return Config(plain)
