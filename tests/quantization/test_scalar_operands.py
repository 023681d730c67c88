"""int8 capture of models with ``tensor <op> number`` after a conv
(MobileNetV3's hard-sigmoid ``(x + 3) / 6``, MobileOne's branch scaling).

torchao's x86 quantizer read such an ``add``/``mul`` as a conv + binary
fusion of two tensors and stopped with a bare AssertionError; gml rewrites
them to the Scalar overloads at capture."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gml.models.quantizers.pt2e.capture import (capture,
                                                scalar_operands_as_scalar_ops)


class ScalarOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu6(x + 3) / 6          # hard sigmoid: add, div
        x = 0.5 * self.conv2(x)          # number on the left: mul
        x = x - 1                        # sub
        return self.fc(x.mean((2, 3)))


def test_scalar_operands_are_rewritten_and_numbers_unchanged():
    torch.manual_seed(0)
    model = ScalarOps().eval()
    x = torch.randn(2, 3, 8, 8)
    graph = capture(model, (1, 3, 8, 8))   # rewrites during capture
    aten = torch.ops.aten
    targets = [n.target for n in graph.graph.nodes
               if n.op == 'call_function']
    # the four scalar ops of forward, by hand: + 3, / 6, 0.5 *, - 1
    assert targets.count(aten.add.Scalar) == 1
    assert targets.count(aten.div.Scalar) == 1
    assert targets.count(aten.mul.Scalar) == 1
    assert targets.count(aten.sub.Scalar) == 1
    assert aten.add.Tensor not in targets and aten.mul.Tensor not in targets
    assert scalar_operands_as_scalar_ops(graph) == 0   # nothing left
    with torch.no_grad():
        assert torch.equal(graph(x), model(x))


def _mmpretrain_qat(backbone, in_channels):
    from mmengine.registry import DefaultScope

    from gml.registry import build_algorithm
    model = dict(type='ImageClassifier', backbone=backbone,
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=10,
                           in_channels=in_channels))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build_algorithm(dict(
            type='QAT', model=model,
            quantizer=dict(type='TorchDefaultQuantizer',
                           input_shape=(1, 3, 32, 32))))


@pytest.mark.slow
def test_mobilenet_v3_and_mobileone_prepare_train_and_convert():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    for backbone, width in [(dict(type='MobileNetV3', arch='small'), 576),
                            (dict(type='MobileOne', arch='s0'), 1024)]:
        algorithm = _mmpretrain_qat(backbone, width)
        algorithm.train()
        optimizer = torch.optim.SGD(algorithm.parameters(), lr=0.01)
        before = [p.detach().clone() for p in algorithm.parameters()]
        loss = algorithm(x, mode='tensor').logsumexp(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        changed = sum(not torch.equal(a, b.detach()) for a, b in
                      zip(before, algorithm.parameters()))
        assert changed > 0, backbone
        algorithm.eval()
        with torch.no_grad():
            logits = algorithm(x, mode='tensor')
        assert logits.shape == (4, 10) and torch.isfinite(logits).all()


def test_a_failure_inside_the_annotation_names_the_op_and_module(
        monkeypatch):
    """Any error torchao raises while annotating or converting the graph
    ends as one line with the node it was working on."""
    from torchao.quantization.pt2e.quantizer import Quantizer

    from gml.errors import ConfigError
    from gml.models.quantizers import torch_default
    from gml.models.quantizers.torch_default import TorchDefaultQuantizer

    class Picky(Quantizer):
        def annotate(self, model):
            for node in model.graph.nodes:
                if node.target is torch.ops.aten.div.Scalar:
                    assert node.args[1] != 6
            return model

        def validate(self, model):
            pass

    monkeypatch.setattr(torch_default, 'backend_quantizer',
                        lambda kind, options: Picky())
    quantizer = TorchDefaultQuantizer(backend='x86',
                                      input_shape=(1, 3, 8, 8))
    with pytest.raises(ConfigError) as info:
        quantizer.prepare(ScalarOps())
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith('algorithm.quantizer: the int8 annotation '
                              'step failed (AssertionError')
    assert "at div.Scalar in module '(the model)'" in message
    assert 'quantizer.input_layer / output_layer' in message
