"""The base algorithm: pass-through steps and checkpoints that round-trip."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint, save_checkpoint

from gml.registry import build_algorithm
from gml.errors import ConfigError

from .test_registry import TINY_CLASSIFIER


def _batch(n=8, size=16, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 255, (3, size, size), generator=g).float()
              for _ in range(n)]
    samples = [DataSample().set_gt_label(i % 10) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def _algorithm(seed=0):
    torch.manual_seed(seed)
    return build_algorithm(dict(
        type='BaseAlgorithm',
        model=dict(TINY_CLASSIFIER, data_preprocessor=dict(
            type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3))))


def test_train_step_equals_the_wrapped_models_step():
    algorithm = _algorithm()
    plain = copy.deepcopy(algorithm.model)
    wrap_opt = OptimWrapper(torch.optim.SGD(algorithm.parameters(), lr=0.1))
    plain_opt = OptimWrapper(torch.optim.SGD(plain.parameters(), lr=0.1))
    for step in range(3):
        data = _batch(seed=step)
        a = algorithm.train_step(data, wrap_opt)
        b = plain.train_step(data, plain_opt)
        assert a['loss'].item() == pytest.approx(b['loss'].item(), rel=1e-6)
    for (name, p), q in zip(algorithm.model.named_parameters(),
                            plain.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name


def test_preprocessor_is_shared_not_copied():
    algorithm = _algorithm()
    assert algorithm.data_preprocessor is algorithm.model.data_preprocessor


def test_checkpoint_round_trip(tmp_path):
    source = _algorithm(seed=1)
    opt = OptimWrapper(torch.optim.SGD(source.parameters(), lr=0.1))
    source.train_step(_batch(), opt)  # move weights and BN statistics
    path = str(tmp_path / 'algo.pth')
    save_checkpoint(source.state_dict(), path)
    target = _algorithm(seed=2)
    load_checkpoint(target, path, strict=True)
    for (k, v), w in zip(source.state_dict().items(),
                         target.state_dict().values()):
        assert torch.equal(v, w), k
    source.eval(), target.eval()
    data = source.data_preprocessor(_batch(seed=5), False)
    with torch.no_grad():
        assert torch.equal(source(data['inputs'], mode='tensor'),
                           target(data['inputs'], mode='tensor'))


def test_plain_module_works_in_tensor_mode_only():
    net = torch.nn.Linear(4, 2)
    algorithm = build_algorithm(dict(type='BaseAlgorithm', model=net))
    x = torch.randn(3, 4)
    assert torch.equal(algorithm(x), net(x))
    with pytest.raises(ConfigError, match="no 'loss' mode"):
        algorithm(x, mode='loss')
