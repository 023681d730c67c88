"""`import gml` stays light, and every shipped config builds."""
import copy
import glob
import os
import subprocess
import sys
import warnings

import pytest

from ..conftest import REPO


def _modules_after(statement):
    code = f'import sys; {statement}; print(" ".join(sorted(sys.modules)))'
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_gml_and_gml_space_load_no_heavy_framework():
    loaded = _modules_after('import gml, gml.space')
    for heavy in ('torch', 'mmengine', 'mmpretrain', 'numpy', 'sklearn'):
        assert heavy not in loaded, heavy


def test_version_is_exposed():
    import gml
    assert gml.__version__.count('.') == 2


def without_teacher_checkpoints(algorithm):
    """The teachers' (and QAT's pretrained) checkpoints are trained by the
    user first; building a config must work without them: every
    checkpoint path in the algorithm (``pretrained``, ``ckpt_path``) is
    dropped, wherever it is (KD's distill_cfg, DMCP's distillation)."""
    def drop(node):
        if isinstance(node, dict):
            for key in ('pretrained', 'ckpt_path'):
                if isinstance(node.get(key), str):
                    node[key] = None
            for value in node.values():
                drop(value)
        elif isinstance(node, list):
            for value in node:
                drop(value)
    algorithm = copy.deepcopy(algorithm.to_dict())
    drop(algorithm)
    return algorithm


def _is_plugin_module(path):
    """A module that registers parts for configs to import (the ActNN
    guide's hook_actnn.py), not a config."""
    with open(path) as f:
        return 'register_module' in f.read()


SHIPPED = sorted(
    p for p in glob.glob(os.path.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if f'{os.sep}_base_{os.sep}' not in p and not _is_plugin_module(p))


@pytest.mark.parametrize('path', SHIPPED,
                         ids=[os.path.relpath(p, REPO) for p in SHIPPED])
def test_every_shipped_config_loads_and_builds(path, monkeypatch):
    # a config's custom_imports find modules beside it (the guide's way:
    # PYTHONPATH=$PWD)
    monkeypatch.syspath_prepend(os.path.dirname(path))
    import torch
    from mmengine.registry import init_default_scope

    from gml.registry import build_algorithm, build_model
    from gml.utils.config import load_config
    cfg = load_config(path)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    if cfg.get('algorithm') is not None:
        algorithm = without_teacher_checkpoints(cfg.algorithm)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "the teacher is untrained"
            network = build_algorithm(algorithm,
                                      default_model=cfg.get('model'))
    else:
        network = build_model(cfg.model)
    assert sum(p.numel() for p in network.parameters()) > 0
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper',
                'train_cfg'):
        assert cfg.get(key) is not None, key
    assert isinstance(network, torch.nn.Module)
