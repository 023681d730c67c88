"""Build an mmengine Runner from a gml config, then train or test with it.

A config trains ``cfg.algorithm`` when it has one, else ``cfg.model``.
Everything that can be checked before the Runner exists (the config, the
model, the data on disk) is checked first, so a mistake ends with one
message and an untouched work dir; a run that fails later without having
saved a checkpoint removes what it wrote, so ``--resume`` is never misled.
"""
import inspect
import os
import os.path as osp
import shutil
import sys
from typing import Dict, Optional, Sequence

from ..errors import ConfigError
from .distributed import LAUNCHERS, finish_distributed, init_cpu_distributed


def prepare_config(config: str, work_dir: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   resume: Optional[str] = None, amp: bool = False,
                   launcher: str = 'none', load_from: Optional[str] = None):
    """Load ``config`` and apply the command-line overrides to it.

    ``resume='auto'`` continues from the work dir's last checkpoint; any
    other string is a checkpoint path to resume from.
    """
    from ..utils.config import load_config
    if launcher not in LAUNCHERS:
        raise ConfigError(f'--launcher: expected one of {LAUNCHERS}, found '
                          f'{launcher!r}')
    cfg = load_config(config, cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    if 'model' not in cfg and 'algorithm' not in cfg:
        raise ConfigError(f'{config}: expected a `model` or an `algorithm` '
                          'to train, found neither')
    if amp:
        import torch
        if not torch.cuda.is_available():
            raise ConfigError('--amp: mixed precision needs a CUDA GPU, and '
                              'none is available')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        if not osp.isfile(resume):
            raise ConfigError(f'--resume: checkpoint not found: {resume}')
        cfg.resume, cfg.load_from = True, resume
    if load_from is not None:
        cfg.load_from = load_from
    cfg.launcher = launcher
    return cfg


def _build_network(cfg):
    from ..registry import build_algorithm, build_model
    algorithm = cfg.get('algorithm')
    if algorithm is not None:
        warn_unused_model(cfg)
        return build_algorithm(algorithm, default_model=cfg.get('model'))
    return build_model(cfg.model)


def warn_unused_model(cfg) -> None:
    """Say so when ``algorithm.model`` replaces a different top-level
    ``model``: what the user wrote there is not trained."""
    own, top = cfg.algorithm.get('model'), cfg.get('model')
    if own is None or top is None or own == top:
        return
    print('gml: warning: model: the top-level model is not used: '
          'algorithm.model replaces it (write algorithm.model=_base_.model, '
          'or leave algorithm.model out to wrap the top-level model)',
          file=sys.stderr)


def build_runner(cfg, build_network=None, data_keys=None):
    """Check the data (of the dataloaders in ``data_keys``, default all),
    build the model or algorithm (or what ``build_network(cfg)`` returns),
    and return a Runner."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.runner.utils import set_random_seed

    from .. import engine  # noqa: F401  (gml's wrappers and loader)
    from ..datasets import check_data_available
    from .preflight import check_runner_keys
    from ..registry import explain_unknown_type, translate_build_errors
    from ..registry.build_errors import BUILD_ERRORS

    init_cpu_distributed(cfg.get('launcher', 'none'))
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    check_runner_keys(cfg)
    if data_keys is None:
        check_data_available(cfg)
    else:
        check_data_available(cfg, data_keys)
    randomness = cfg.get('randomness') or {}
    if randomness.get('seed') is not None:
        set_random_seed(**randomness)
    if cfg.get('launcher', 'none') != 'none' and \
            cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='gml.DeviceAwareDDP', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    skip = {'self', 'model', 'cfg'}
    kwargs = {name: cfg[name]
              for name in inspect.signature(Runner.__init__).parameters
              if name not in skip and name in cfg}
    with translate_build_errors(cfg):
        network = (build_network or _build_network)(cfg)
        try:
            return Runner(model=network, cfg=cfg, **kwargs)
        except BUILD_ERRORS as exc:
            if getattr(exc, 'gml_part', None) is not None or \
                    explain_unknown_type(exc) is not None:
                raise
            # mmengine's own checks of the runner keys (val_cfg without
            # val_dataloader, ...): config mistakes, said in one line
            raise ConfigError('config: mmengine cannot build a Runner from '
                              f'it: {" ".join(str(exc).split())}') from None


def _checkpoints(work_dir: str) -> set:
    if not osp.isdir(work_dir):
        return set()
    return {f for f in os.listdir(work_dir) if f.endswith('.pth')}


def _discard_partial_run(work_dir: str, existed_before: Sequence[str],
                         dir_existed: bool) -> None:
    """Remove what a failed run wrote, unless it saved a checkpoint."""
    from mmengine.dist import is_main_process
    if not is_main_process() or not osp.isdir(work_dir):
        return
    if _checkpoints(work_dir) - set(existed_before):
        return  # progress was saved: keep it so --resume can continue
    if not dir_existed:
        shutil.rmtree(work_dir, ignore_errors=True)
        return
    for name in set(os.listdir(work_dir)) - set(existed_before):
        path = osp.join(work_dir, name)
        if osp.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)


def _final_metrics(runner, prefix: str) -> Dict[str, float]:
    scalars = runner.message_hub.log_scalars
    timing = {'time', 'data_time'}
    return {k[len(prefix):]: float(v.current())
            for k, v in scalars.items()
            if k.startswith(prefix) and k[len(prefix):] not in timing}


def _run(cfg, action: str, build_network=None):
    from ..registry import translate_build_errors
    work_dir = cfg.work_dir
    dir_existed = osp.isdir(work_dir)
    before = os.listdir(work_dir) if dir_existed else []
    try:
        # a test reads the test set only: the training data need not exist
        data_keys = None if action == 'train' else ('test_dataloader', )
        runner = build_runner(cfg, build_network, data_keys)
        if action == 'test' and cfg.get('load_from'):
            from mmengine.model import is_model_wrapper

            from ..utils.weights import check_checkpoint_fits
            model = runner.model.module if is_model_wrapper(runner.model) \
                else runner.model
            check_checkpoint_fits(model, cfg.load_from, 'CHECKPOINT')
        with translate_build_errors(cfg):
            if action == 'train':
                runner.train()
                result = _final_metrics(runner, 'val/')
            else:
                result = runner.test()
        finish_distributed()
        return result
    except BaseException:
        _discard_partial_run(work_dir, before, dir_existed)
        raise


def train(cfg) -> Dict[str, float]:
    """Train as the config says; return the last validation metrics."""
    return _run(cfg, 'train')


def skip_start_weights(cfg) -> None:
    """A checkpoint about to be loaded holds every weight: the algorithm's
    ``pretrained`` starting point (QAT's fp32 model, a distiller's student)
    is not needed, and need not exist on this machine."""
    algorithm = cfg.get('algorithm')
    if algorithm is not None and algorithm.get('pretrained') is not None:
        algorithm['pretrained'] = None


def test(cfg, checkpoint: str, compile: bool = False) -> Dict[str, float]:
    """Evaluate ``checkpoint`` on the config's test set; return the metrics.

    A ``.pt2`` file is a saved program (a pruned or int8 model): it runs
    as saved, with the config's data and head (``compile``: through
    ``torch.compile``, which int8 programs need for int8 kernels).
    """
    if not osp.isfile(checkpoint):
        raise ConfigError(f'checkpoint not found: {checkpoint}')
    cfg.resume = False
    if cfg.get('test_dataloader') is None:
        raise ConfigError('test_dataloader: the config defines no test set')
    skip_start_weights(cfg)
    if checkpoint.endswith('.pt2'):
        from .program import program_classifier
        cfg.load_from = None
        return _run(cfg, 'test', lambda c: program_classifier(c, checkpoint,
                                                              compile))
    if compile:
        raise ConfigError('--compile: applies to .pt2 programs only')
    from ..utils.weights import check_checkpoint_file
    check_checkpoint_file(checkpoint, 'CHECKPOINT')
    cfg.load_from = checkpoint
    return _run(cfg, 'test')
