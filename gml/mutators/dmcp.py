"""DMCP's mutator: channel widths of an ordinary model, and their Markov
architecture parameters.

The model stays as built (any mmpretrain classifier or torch model).
:func:`~gml.models.pruning.trace_channel_graph` runs it once to find its
channel units; :class:`~gml.models.pruning.masks.ChannelMasks` scales the
channels every layer reads by a per-channel factor:

* a sampled subnet: 1 on the kept channels, 0 on the others, which computes
  exactly what the cut model computes (a zeroed channel contributes
  nothing to the layers reading it; layer norms take their statistics over
  the kept channels);
* the architecture forward: each group's marginal keep probability (the
  mandatory channels by 1), differentiable in the architecture parameters;
* the full model: no scaling at all.

The architecture parameters are **buffers**, not parameters: no weight
optimizer, weight decay or DDP reducer ever sees them. The mutator's own
optimizer (``arch_learning_rate``, ``arch_weight_decay``) updates them from
gradients the algorithm computes for them alone; its state travels in the
checkpoint with them.
"""
import random
from typing import Dict, List, Optional, Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.logging import print_log

from ..errors import ConfigError
from ..models.pruning.channel_graph import (ChannelGraph, trace_channel_graph,
                                            unit_report)
from ..models.pruning.masks import ChannelMasks
from ..models.pruning.markov import (PROBABILITIES, ChannelGroups, WidthGrid,
                                     channel_scale, direct_sample,
                                     expected_width, marginals)
from ..registry import MODELS

SAMPLE_TYPES = ('max', 'min', 'scheduled_random', 'non_uni_random',
                'arch_random')
# kinds sample() also answers (evaluation hooks, tools)
EXTRA_KINDS = ('random', 'direct', 'expected')
OPTIMIZERS = ('adam', 'sgd')


def _buffer_name(unit: str) -> str:
    return unit.replace('.', '__')


@MODELS.register_module()
class DMCPMutator(nn.Module):
    """Widths, Markov architecture parameters and sampling for DMCP.

    Args:
        num_sample: subnets trained per batch; equals
            ``len(arch_sample_type)``.
        sample_width: width ratios ``non_uni_random`` draws from (each
            layer its own, rounded to the grid); None: every grid width.
        arch_sample_type: the kind of each of the ``num_sample`` subnets:
            ``max``, ``min``, ``non_uni_random`` (every unit its own random
            width), ``scheduled_random`` (once architecture training has
            started: a random subnet with probability ``p``, else a Markov
            direct sample; ``p`` starts at 1 and is multiplied by
            ``scheduled_decay`` every ``scheduled_every`` iterations) and
            ``arch_random`` (a direct sample once architecture training has
            started, random before).
        arch_learning_rate, arch_weight_decay: of the architecture
            optimizer.
        arch_optimizer: ``'adam'`` or ``'sgd'`` (momentum 0.9, Nesterov).
        input_shape: the (N, C, H, W) the FLOPs are counted at (N = 1:
            per-image MFLOPs).
        width: the width grid, ``dict(min=0.1, max=1.0, offset=0.1)``;
            ``max`` is the width the model is built at.
        probability: ``'sigmoid'`` (``p = sigmoid(alpha)``) or ``'exp'``
            (``p = exp(-max(alpha, 0))``).
        init_alpha: the architecture parameters' starting value.
        fixed_layers: module names whose channels are never pruned.
        seed: seeds the draws (None: from Python's global ``random``, which
            the Runner seeds, so DDP processes draw alike).
    """

    def __init__(self, num_sample: int = 4,
                 sample_width: Optional[Sequence[float]] = None,
                 arch_sample_type: Sequence[str] = (
                     'max', 'min', 'scheduled_random', 'arch_random'),
                 arch_learning_rate: float = 0.5,
                 arch_weight_decay: float = 0.0,
                 arch_optimizer: str = 'adam',
                 input_shape: Sequence[int] = (1, 3, 224, 224),
                 width: Optional[dict] = None,
                 probability: str = 'sigmoid', init_alpha: float = 0.0,
                 fixed_layers: Sequence[str] = (),
                 scheduled_decay: float = 0.9999, scheduled_every: int = 10,
                 seed: Optional[int] = None):
        super().__init__()
        self.sample_types = list(arch_sample_type)
        for kind in self.sample_types:
            if kind not in SAMPLE_TYPES:
                raise ConfigError(f'mutator.arch_sample_type: {kind!r} is '
                                  f'not one of {list(SAMPLE_TYPES)}')
        if num_sample != len(self.sample_types):
            raise ConfigError(
                f'mutator.num_sample: expected the length of '
                f'arch_sample_type ({len(self.sample_types)}), found '
                f'{num_sample!r}')
        self.grid = WidthGrid.from_cfg(width)
        self.sample_width = None if sample_width is None else \
            [float(w) for w in sample_width]
        for ratio in self.sample_width or ():
            if not self.grid.min - 1e-9 <= ratio <= self.grid.max + 1e-9:
                raise ConfigError(
                    f'mutator.sample_width: {ratio} is outside the width '
                    f'grid [{self.grid.min}, {self.grid.max}]')
        if probability not in PROBABILITIES:
            raise ConfigError(f'mutator.probability: expected one of '
                              f'{list(PROBABILITIES)}, found {probability!r}')
        if arch_optimizer not in OPTIMIZERS:
            raise ConfigError(f'mutator.arch_optimizer: expected one of '
                              f'{list(OPTIMIZERS)}, found {arch_optimizer!r}')
        self.probability = probability
        self.arch_lr = float(arch_learning_rate)
        self.arch_wd = float(arch_weight_decay)
        self.arch_optimizer_type = arch_optimizer
        self.input_shape = tuple(input_shape)
        self.init_alpha = float(init_alpha)
        self.fixed_layers = list(fixed_layers)
        self.scheduled_decay = float(scheduled_decay)
        self.scheduled_every = int(scheduled_every)
        self.rng = random.Random(
            seed if seed is not None else random.getrandbits(64))
        self.graph: Optional[ChannelGraph] = None
        self.groups: Dict[str, ChannelGroups] = {}
        self.alphas = nn.Module()  # holds one buffer per prunable unit
        self._scales: Dict[str, Optional[torch.Tensor]] = {}
        self.masks: Optional[ChannelMasks] = None
        self._optimizer = None
        self._pending_optimizer_state: Optional[dict] = None
        self.register_state_dict_post_hook(_save_arch_optimizer)
        self.register_load_state_dict_pre_hook(_load_arch_optimizer)

    # -- set-up -------------------------------------------------------------
    def prepare(self, model: nn.Module) -> None:
        """Trace ``model``, create the architecture parameters and install
        the masks."""
        self.graph = trace_channel_graph(model, self.input_shape,
                                         self.fixed_layers)
        for name, unit in self.graph.prunable().items():
            groups = self.grid.groups_of(unit.channels, unit.step)
            if groups.num_groups == 0:
                continue  # too narrow to split into groups: kept whole
            self.groups[name] = groups
            self.alphas.register_buffer(
                _buffer_name(name),
                torch.full((groups.num_groups,), self.init_alpha))
        if not self.groups:
            raise ConfigError('pruning: the model has no prunable layer '
                              'wide enough for the width grid')
        report = unit_report(self.graph)
        if report:
            print_log(f'DMCP: {report}', logger='current')
        self.masks = ChannelMasks(self.graph, model)
        self._scales = {name: None for name in self.groups}

    def _apply_scales(self) -> None:
        """The per-unit channel scales as the masks' element scales."""
        if all(s is None for s in self._scales.values()):
            self.masks.set(None)
            return
        parts = []
        device = next(iter(self.alphas.buffers())).device
        for name, unit in self.graph.prunable().items():
            scale = self._scales.get(name)
            parts.append(torch.ones(unit.elements, device=device)
                         if scale is None else scale[::unit.step])
        parts.append(torch.ones(1, device=device))
        self.masks.set(torch.cat(parts))

    def alpha(self, unit: str) -> torch.Tensor:
        return getattr(self.alphas, _buffer_name(unit))

    # -- widths and costs ---------------------------------------------------
    def full_widths(self) -> Dict[str, int]:
        return {name: g.channels for name, g in self.groups.items()}

    def subnet_flops(self, config: Dict[str, int]) -> float:
        """MFLOPs of a subnet (``{unit: channels}``) at ``input_shape``."""
        return float(self.graph.macs(config)) / 1e6

    def expected_widths(self, alphas: Optional[Dict[str, torch.Tensor]] = None
                        ) -> Dict[str, torch.Tensor]:
        return {name: expected_width(g, self._alpha(name, alphas),
                                     self.probability)
                for name, g in self.groups.items()}

    def expected_flops(self, alphas: Optional[Dict[str, torch.Tensor]] = None
                       ) -> torch.Tensor:
        """Expected MFLOPs (differentiable in ``alphas`` when given)."""
        return self.graph.macs(self.expected_widths(alphas)) / 1e6

    def _alpha(self, name, alphas):
        return alphas[name] if alphas is not None else self.alpha(name)

    # -- activating subnets ---------------------------------------------------
    def set_subnet(self, config: Optional[Dict[str, int]]) -> None:
        """Run the model as the subnet ``config`` (None: full width)."""
        if config is None:
            self._scales = {name: None for name in self.groups}
            self._apply_scales()
            return
        self.check_subnet(config)
        scales = {}
        for name, groups in self.groups.items():
            width = int(config.get(name, groups.channels))
            if width == groups.channels:
                scales[name] = None
            else:
                alpha = self.alpha(name)
                scale = torch.zeros(groups.channels, device=alpha.device)
                scale[:width] = 1
                scales[name] = scale
        self._scales = scales
        self._apply_scales()

    def set_soft(self, alphas: Dict[str, torch.Tensor]) -> None:
        """The architecture forward: channels scaled by their marginals."""
        self._scales = {name: channel_scale(g, alphas[name],
                                            self.probability)
                        for name, g in self.groups.items()}
        self._apply_scales()

    def check_subnet(self, config: Dict[str, int]) -> None:
        """ConfigError unless every entry is a unit and a grid width."""
        if not isinstance(config, dict):
            raise ConfigError(f'subnet: expected a mapping of unit names to '
                              f'channels, found {type(config).__name__}')
        for name, width in config.items():
            if name not in self.groups:
                raise ConfigError(f'subnet: {name!r} is not a prunable unit '
                                  f'of this model (units: '
                                  f'{", ".join(list(self.groups)[:6])}, ...)')
            try:
                self.groups[name].kept_groups(width)
            except ConfigError as exc:
                raise ConfigError(f'subnet.{name}: {exc}') from None

    # -- sampling -------------------------------------------------------------
    def sample(self, kind: str = 'random', arch_started: bool = False,
               arch_iteration: int = 0) -> Dict[str, int]:
        """A subnet ``{unit: channels}`` of ``kind`` (one of
        ``arch_sample_type``'s kinds, or ``random``, ``direct``,
        ``expected``)."""
        if kind == 'max':
            return self.full_widths()
        if kind == 'min':
            return {name: g.min_ch for name, g in self.groups.items()}
        if kind in ('random', 'non_uni_random'):
            return {name: self._random_width(g)
                    for name, g in self.groups.items()}
        if kind == 'direct':
            return {name: direct_sample(g, self.alpha(name), self.rng,
                                        self.probability)
                    for name, g in self.groups.items()}
        if kind == 'expected':
            widths = self.expected_widths()
            return {name: g.nearest(float(widths[name]))
                    for name, g in self.groups.items()}
        if kind == 'arch_random':
            return self.sample('direct' if arch_started else 'random')
        if kind == 'scheduled_random':
            if arch_started and self.rng.random() >= \
                    self.random_probability(arch_iteration):
                return self.sample('direct')
            return self.sample('random')
        raise ConfigError(f'mutator.sample: kind must be one of '
                          f'{list(SAMPLE_TYPES + EXTRA_KINDS)}, found '
                          f'{kind!r}')

    def random_probability(self, arch_iteration: int) -> float:
        """``scheduled_random``'s chance of a random (not direct) subnet."""
        return self.scheduled_decay ** (max(arch_iteration, 0) //
                                        self.scheduled_every)

    def _random_width(self, groups: ChannelGroups) -> int:
        if self.sample_width is None:
            return groups.width(self.rng.randint(0, groups.num_groups))
        ratio = self.rng.choice(self.sample_width)
        return groups.nearest(ratio / self.grid.max * groups.channels)

    def marginal_table(self) -> Dict[str, List[float]]:
        """Each unit's marginal keep probability per group (for reports)."""
        return {name: [round(p, 6) for p in marginals(
            self.alpha(name), self.probability).tolist()]
            for name in self.groups}

    def fit_to_budget(self, config: Dict[str, int], target: float,
                      tolerance: float) -> Dict[str, int]:
        """Move ``config`` into ``target * (1 +- tolerance)`` MFLOPs one
        group at a time: above it, drop the kept group least likely to be
        kept (preferring drops that stay above the lower bound); below it,
        add the next group most likely to be kept that does not overshoot.
        Returns the closest configuration reached."""
        config = dict(config)
        low, high = target * (1 - tolerance), target * (1 + tolerance)
        probs = {name: marginals(self.alpha(name), self.probability).tolist()
                 for name in self.groups}
        for _ in range(sum(g.num_groups for g in self.groups.values()) * 2):
            flops = self.subnet_flops(config)
            if low <= flops <= high:
                break
            moves = []
            for name, groups in self.groups.items():
                kept = groups.kept_groups(config[name])
                step = -1 if flops > high else 1
                if not 0 <= kept + step <= groups.num_groups:
                    continue
                trial = dict(config, **{name: groups.width(kept + step)})
                after = self.subnet_flops(trial)
                likely = probs[name][kept - 1 if step < 0 else kept]
                safe = after >= low if step < 0 else after <= high
                moves.append((safe, likely if step > 0 else -likely, trial))
            if not moves:
                break
            safe_moves = [m for m in moves if m[0]]
            if step > 0 and not safe_moves:
                break  # every addition overshoots: the closest from below
            config = max(safe_moves or moves, key=lambda m: m[1])[2]
        return config

    # -- the architecture optimizer -------------------------------------------
    def arch_leaves(self) -> Dict[str, torch.Tensor]:
        """Copies of the architecture parameters that require grad."""
        return {name: self.alpha(name).detach().clone().requires_grad_()
                for name in self.groups}

    def _arch_optimizer(self):
        params = [self.alpha(name) for name in self.groups]
        if self._optimizer is not None and all(
                a is b for a, b in zip(self._optimizer.param_groups[0]
                                       ['params'], params)):
            return self._optimizer
        if self.arch_optimizer_type == 'adam':
            optimizer = torch.optim.Adam(params, lr=self.arch_lr,
                                         weight_decay=self.arch_wd)
        else:
            optimizer = torch.optim.SGD(params, lr=self.arch_lr,
                                        momentum=0.9, nesterov=True,
                                        weight_decay=self.arch_wd)
        state = self._pending_optimizer_state
        if state is None and self._optimizer is not None:
            state = self._optimizer.state_dict()['state']
        if state:
            full = optimizer.state_dict()
            full['state'] = {int(k): {n: v.to(params[int(k)].device)
                                      if torch.is_tensor(v) and v.dim()
                                      else v for n, v in s.items()}
                             for k, s in state.items()}
            optimizer.load_state_dict(full)
        self._pending_optimizer_state = None
        self._optimizer = optimizer
        return optimizer

    def arch_update(self, grads: Dict[str, Optional[torch.Tensor]]) -> None:
        """One optimizer step of the architecture parameters with ``grads``
        (averaged over processes first)."""
        optimizer = self._arch_optimizer()
        world = dist.get_world_size() if dist.is_available() and \
            dist.is_initialized() else 1
        for name in self.groups:
            alpha = self.alpha(name)
            grad = grads.get(name)
            grad = torch.zeros_like(alpha) if grad is None else grad.detach()
            if world > 1:
                dist.all_reduce(grad)
                grad = grad / world
            alpha.grad = grad
        optimizer.step()
        for name in self.groups:
            self.alpha(name).grad = None


def _save_arch_optimizer(mutator, state_dict, prefix, metadata):
    """State-dict hook: the architecture optimizer's state as tensors
    (mmengine's checkpoints keep tensors only)."""
    optimizer = mutator._optimizer
    state = optimizer.state_dict()['state'] if optimizer else \
        mutator._pending_optimizer_state or {}
    for index, entries in state.items():
        for key, value in entries.items():
            state_dict[f'{prefix}arch_optimizer.{index}.{key}'] = \
                value.detach().clone() if torch.is_tensor(value) \
                else torch.tensor(value)  # a copy: the optimizer moves on


def _load_arch_optimizer(mutator, state_dict, prefix, *args):
    """Load-state-dict hook: take the architecture optimizer's state out of
    ``state_dict``; it is applied when the optimizer is next built."""
    head = f'{prefix}arch_optimizer.'
    state: Dict[int, dict] = {}
    for key in [k for k in state_dict if k.startswith(head)]:
        index, name = key[len(head):].split('.', 1)
        state.setdefault(int(index), {})[name] = \
            state_dict.pop(key).detach().clone()
    if state:
        mutator._pending_optimizer_state = state
        mutator._optimizer = None
