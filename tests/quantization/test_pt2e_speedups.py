"""gml's fast versions of two torchao pt2e helpers give torchao's results.

torchao's x86 quantizer searched for conv -> BN -> add -> ReLU chains by
trying every combination of partitions (4 minutes of prepare on
MobileOne-s0), and every convert_pt2e traced 114 small pattern functions
with torch.export (20 s whatever the model); found by tests/zoo."""
import contextlib

import pytest
import torch

from gml.models.quantizers import TorchDefaultQuantizer
from gml.models.quantizers.pt2e import speedups
from gml.models.quantizers.pt2e.capture import capture

from .conftest import DIGITS, digits_model



def test_sequential_partitions_are_torchao_s():
    import torch.nn as nn
    import torch.nn.functional as F
    from torchao.quantization.pt2e import graph_utils
    graph = capture(digits_model(), DIGITS)
    chains = [[nn.Conv2d, nn.BatchNorm2d, nn.ReLU],
              [nn.Conv2d, nn.BatchNorm2d, torch.add, nn.ReLU],
              [nn.Conv2d, torch.add], [nn.BatchNorm2d, nn.ReLU],
              [nn.Linear, nn.ReLU], [nn.ReLU], [F.relu],
              [nn.Conv2d, nn.Linear]]   # none
    found = 0
    for types in chains:
        ours = speedups.find_sequential_partitions(graph, types)
        theirs = graph_utils.find_sequential_partitions(graph, types)
        assert [[p.nodes for p in chain] for chain in ours] == \
            [[p.nodes for p in chain] for chain in theirs], types
        found += len(ours)
    assert found > 50
    # an invalid sequence is torchao's own error
    speedups._targets()
    with pytest.raises(ValueError, match='must be unique'):
        speedups.find_sequential_partitions(graph, [nn.ReLU, nn.ReLU])


def prepare_convert(monkeypatch, fast: bool):
    import gml.models.quantizers.pt2e.convert as convert
    import gml.models.quantizers.torch_default as torch_default
    if not fast:
        for module in (convert, torch_default, speedups):
            monkeypatch.setattr(module, 'fast_passes', contextlib.nullcontext)
    quantizer = TorchDefaultQuantizer(input_shape=DIGITS)
    prepared = quantizer.prepare(digits_model())
    torch.manual_seed(1)
    prepared.train()
    for _ in range(2):
        prepared(torch.randn(8, 3, 16, 16))
    prepared.eval()
    int8 = quantizer.convert(prepared)
    monkeypatch.undo()
    return prepared, int8


def test_prepare_and_convert_give_the_same_graphs(monkeypatch):
    slow_prepared, slow_int8 = prepare_convert(monkeypatch, fast=False)
    fast_prepared, fast_int8 = prepare_convert(monkeypatch, fast=True)
    assert fast_prepared.net.code == slow_prepared.net.code
    assert fast_int8.net.code == slow_int8.net.code
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(fast_prepared(x), slow_prepared(x))
        assert torch.equal(fast_int8(x), slow_int8(x))


def test_patterns_are_traced_once(monkeypatch):
    prepare_convert(monkeypatch, fast=True)  # every pattern traced
    traced = []
    original = speedups._ORIGINALS['_get_aten_graph_module_for_pattern']

    def counting(*args, **kwargs):
        traced.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setitem(speedups._ORIGINALS,
                        '_get_aten_graph_module_for_pattern', counting)
    prepare_convert(monkeypatch, fast=True)
    assert traced == []
    # and torchao's own functions are back in place afterwards
    from torchao.quantization.pt2e import qat_utils, utils
    assert utils._get_aten_graph_module_for_pattern is original
    assert qat_utils._get_aten_graph_module_for_pattern is original
