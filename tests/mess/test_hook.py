"""MESSHook on a toy model with a stand-in runner: when it projects, what
it counts, v2f's fixed indices, what it saves and writes."""
import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

from gml.engine import MESSHook
from gml.errors import ConfigError
from gml.models.mess import read_mess
from gml.registry import HOOKS

from .toy import ToyResNet, seeded


class Runner(SimpleNamespace):
    """What the hook uses of an mmengine Runner."""

    def __init__(self, model, max_epochs, work_dir):
        super().__init__(model=model, epoch=0, iter=0, max_epochs=max_epochs,
                         work_dir=str(work_dir),
                         logger=logging.getLogger('mess-test'),
                         message_hub=MessageHub.get_instance('mess-test'))


def train_epoch(runner, hook, noise=0.0):
    """Stand in for an epoch of training: move every weight a little."""
    with torch.no_grad():
        for p in runner.model.parameters():
            p.add_(noise * torch.randn_like(p))
    runner.iter += 10
    hook.after_train_epoch(runner)
    runner.epoch += 1


def test_registered_under_gml():
    hook = HOOKS.build(dict(type='gml.MESSHook', version='v2', interval=2))
    assert isinstance(hook, MESSHook) and hook.interval == 2


def test_projection_schedule_with_warmup(tmp_path):
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 7, tmp_path)
    hook = MESSHook(version='v2', warmup_epochs=2, interval=2)
    hook.before_train(runner)
    for _ in range(7):
        train_epoch(runner, hook, 0.01)
    # before training, after epochs 4 and 6 (2 + 2k), and after the last
    assert [r['when'] for r in hook.history] == [
        'before training', 'after epoch 4', 'after epoch 6',
        'after epoch 7']


def test_changed_indices_are_counted_and_logged(tmp_path, caplog):
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 2, tmp_path)
    hook = MESSHook(version='v2qq')
    hook.before_train(runner)
    before = hook.indices
    with caplog.at_level(logging.INFO, logger='mess-test'):
        train_epoch(runner, hook, 0.5)
    record = hook.history[-1]
    expected = sum(int((before[k] != hook.indices[k]).sum())
                   for k in before)
    assert record['total'] == 12 + 20 and expected > 0
    assert record['changed'] == expected
    assert runner.message_hub.get_scalar('mess/changed_indices') \
        .current() == expected
    assert f'{expected} of 32 indices k changed' in caplog.text
    # a small step: the projected kernels keep their references
    train_epoch(runner, hook, 1e-4)
    assert hook.history[-1]['changed'] == 0


def test_v2f_keeps_the_first_indices_and_refits(tmp_path):
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 3, tmp_path)
    hook = MESSHook(version='v2f')
    hook.before_train(runner)
    first = {k: v.clone() for k, v in hook.indices.items()}
    alpha_before = runner.model.conv1.weight.detach().clone()
    for _ in range(3):
        train_epoch(runner, hook, 0.5)
        assert all(torch.equal(hook.indices[k], first[k]) for k in first)
        assert hook.history[-1]['changed'] == 0
    assert not torch.equal(runner.model.conv1.weight, alpha_before)
    # the same steps under v2qq move indices
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 3, tmp_path)
    searched = MESSHook(version='v2qq')
    searched.before_train(runner)
    train_epoch(runner, searched, 0.5)
    assert searched.history[-1]['changed'] > 0


def test_v2f_indices_survive_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 3, tmp_path)
    hook = MESSHook(version='v2f')
    hook.before_train(runner)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    resumed = MESSHook(version='v2f')
    resumed.after_load_checkpoint(runner, checkpoint)
    with torch.no_grad():
        runner.model.conv1.weight.add_(torch.randn(4, 3, 3, 3))
    resumed.before_train(runner)
    assert all(torch.equal(resumed.indices[k], hook.indices[k])
               for k in hook.indices)


def test_the_final_file_holds_the_final_model(tmp_path):
    torch.manual_seed(0)
    runner = Runner(seeded(ToyResNet), 2, tmp_path)
    hook = MESSHook(version='v2qq', qb=6)
    hook.before_train(runner)
    for _ in range(2):
        train_epoch(runner, hook, 0.05)
    hook.after_train(runner)
    state, header = read_mess(str(tmp_path / 'model.mess'))
    assert header['options']['qb'] == 6
    for key, value in runner.model.state_dict().items():
        assert torch.equal(state[key], value), key


@pytest.mark.parametrize('kwargs, key', [
    (dict(version='v1'), 'MESSHook.version'), (dict(qb=16), 'MESSHook.qb'),
    (dict(qbb=-1), 'MESSHook.qbb'), (dict(interval=0), 'MESSHook.interval'),
    (dict(warmup_epochs=-1), 'MESSHook.warmup_epochs'),
    (dict(out_file=3), 'MESSHook.out_file'),
])
def test_bad_arguments_name_their_key(kwargs, key):
    with pytest.raises(ConfigError, match=f'^{key}: expected'):
        MESSHook(**kwargs)
