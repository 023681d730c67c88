"""DMCP: Differentiable Markov Channel Pruning around an ordinary model."""
import inspect
import logging
from contextlib import contextmanager
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...models.losses.flops_loss import FlopsLoss
from ...registry import ALGORITHMS, MODELS
from ..base import BaseAlgorithm
from ..sandwich import sandwich_step

ALGORITHM_CFG = dict(arch_start_training=0, arch_train_freq=1,
                     arch_sample_num=10, target_flops=None,
                     flops_loss=None, sample_tolerance=0.03)
#: The target when ``algorithm_cfg`` has none (the design guide gives none):
#: half the full model's FLOPs, DMCP's headline setting (ResNet-50 4.1 G ->
#: 2.0 G, MMRazor's 2000 MFLOPs config); see docs/pruning.md.
DEFAULT_TARGET_FLOPS = '50%'
#: ``distillation`` keys in the design guide's form.
DISTILLATION_KEYS = ('tea_cfg', 'teacher_loss', 'inplace_loss')


def _inform(message: str) -> None:
    from mmengine.logging import print_log
    print_log(message, logger='current', level=logging.INFO)


def _flops_loss_cfg(cfg, target: float) -> dict:
    """``flops_loss`` with its type filled in when not given: DMCP's
    ``log_l1`` where its band is at least 1 MFLOPs wide, else ``l1``."""
    cfg = dict(cfg or {})
    if 'type' not in cfg:
        default_band = inspect.signature(FlopsLoss).parameters['band'].default
        band = float(cfg.get('band', default_band))
        cfg['type'] = 'log_l1' if band * target >= 1 else 'l1'
    return cfg


def _target_mflops(value, low: float, high: float) -> float:
    """``target_flops``: MFLOPs, or a percentage of the full model's."""
    text = str(value).strip()
    try:
        target = float(text[:-1]) / 100 * high if text.endswith('%') \
            else float(text)
    except ValueError:
        raise ConfigError(f"algorithm.algorithm_cfg.target_flops: expected "
                          f"MFLOPs (e.g. 2000) or a percentage of the full "
                          f"model (e.g. '50%'), found {value!r}") from None
    if not low <= target <= high:
        raise ConfigError(
            f'algorithm.algorithm_cfg.target_flops: {target:.6g} MFLOPs is '
            f'outside what the width grid can reach: the min subnet has '
            f'{low:.6g} MFLOPs and the full model {high:.6g} MFLOPs')
    return target


@contextmanager
def batch_statistics_only(model: nn.Module):
    """BatchNorms normalise with the batch's statistics and leave their
    running statistics untouched (the architecture forward's channel
    scaling must not leak into them)."""
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and
             m.track_running_stats]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


@ALGORITHMS.register_module()
class DMCP(BaseAlgorithm):
    """Channel pruning by Differentiable Markov Channel Pruning.

    Every batch trains the ``mutator.arch_sample_type`` subnets (a sandwich:
    typically max, min and two random/Markov ones), accumulating their
    gradients for **one** optimizer step; the first ``max`` subnet learns
    the labels and teaches the subnets after it through ``distillation``
    (inplace distillation on its detached logits). From iteration
    ``arch_start_training``, every ``arch_train_freq`` iterations an
    architecture step comes first: the full model with every channel group
    scaled by its marginal keep probability, loss = task loss + FLOPs loss
    of the expected MFLOPs against ``target_flops``; only the architecture
    parameters move, with the mutator's own optimizer.

    Args:
        model: the model to prune (any mmpretrain classifier).
        mutator: ``gml.DMCPMutator`` config.
        algorithm_cfg: ``arch_start_training`` (iteration),
            ``arch_train_freq``, ``arch_sample_num`` (direct samples drawn
            after training), ``target_flops`` (MFLOPs or ``'50%'``),
            ``flops_loss`` (``gml.FlopsLoss`` arguments: ``type``,
            ``loss_weight``, ``band``, ``window``), ``sample_tolerance``
            (relative FLOPs tolerance of the architectures drawn after
            training).
        distillation: the in-place distillation loss of the non-max
            subnets against the max subnet's logits (default KL at T = 1;
            None: labels for all), or the design guide's form
            ``dict(tea_cfg=..., teacher_loss=..., inplace_loss=...)``:
            ``tea_cfg`` is one teacher ``dict(model=..., ckpt_path=...)`` or
            a list; every sampled subnet (the max one included) then also
            learns the teachers' soft labels, ``teacher_loss`` (default KL
            at T = 1) averaged over the teachers, on top of the labels (max)
            or the in-place distillation (the others); ``inplace_loss`` as
            the plain form (default KL at T = 1, None: labels).
    """

    syncs_own_gradients = True  # DeviceAwareDDP calls train_step as is

    def __init__(self, model, mutator: Optional[dict] = None,
                 algorithm_cfg: Optional[dict] = None,
                 distillation: Union[dict, None, str] = 'default',
                 data_preprocessor=None, init_cfg=None):
        super().__init__(model, data_preprocessor, init_cfg)
        cfg = dict(ALGORITHM_CFG)
        unknown = set(algorithm_cfg or {}) - set(cfg)
        if unknown:
            raise ConfigError(f'algorithm.algorithm_cfg: unknown keys '
                              f'{sorted(unknown)}; expected '
                              f'{sorted(cfg)}')
        cfg.update(algorithm_cfg or {})
        for key in ('arch_start_training', 'arch_sample_num'):
            if not isinstance(cfg[key], int) or cfg[key] < 0:
                raise ConfigError(f'algorithm.algorithm_cfg.{key}: expected '
                                  f'an integer >= 0, found {cfg[key]!r}')
        if not isinstance(cfg['arch_train_freq'], int) or \
                cfg['arch_train_freq'] < 1:
            raise ConfigError(f'algorithm.algorithm_cfg.arch_train_freq: '
                              f'expected an integer >= 1, found '
                              f'{cfg["arch_train_freq"]!r}')
        self.arch_start = cfg['arch_start_training']
        self.arch_freq = cfg['arch_train_freq']
        self.arch_sample_num = cfg['arch_sample_num']
        self.sample_tolerance = float(cfg['sample_tolerance'])
        mutator = dict(mutator or dict(type='gml.DMCPMutator'))
        mutator.setdefault('type', 'gml.DMCPMutator')
        self.mutator = MODELS.build(mutator)
        self.mutator.prepare(self.model)
        self.min_flops = self.mutator.subnet_flops(self.mutator.sample('min'))
        self.max_flops = self.mutator.subnet_flops(self.mutator.sample('max'))
        defaulted = cfg['target_flops'] is None
        if defaulted:
            cfg['target_flops'] = DEFAULT_TARGET_FLOPS
        self.target_flops = _target_mflops(cfg['target_flops'],
                                           self.min_flops, self.max_flops)
        if defaulted:
            _inform(f'algorithm.algorithm_cfg.target_flops is not set: '
                    f'pruning to {DEFAULT_TARGET_FLOPS} of the full model\'s '
                    f'{self.max_flops:.6g} MFLOPs = {self.target_flops:.6g} '
                    f'MFLOPs (at mutator.input_shape '
                    f'{tuple(self.mutator.input_shape)})')
        self.flops_loss = FlopsLoss(
            self.target_flops,
            **_flops_loss_cfg(cfg['flops_loss'], self.target_flops))
        inplace, teachers, teacher_loss = self._distillation(distillation)
        kinds = self.mutator.sample_types
        if 'max' in kinds and kinds[0] != 'max' and inplace:
            raise ConfigError('mutator.arch_sample_type: with inplace '
                              'distillation the max subnet must come first '
                              f'(it teaches the others), found {kinds}')
        self.distill = MODELS.build(inplace) if inplace else None
        # kept out of the module tree: never in the checkpoints, the
        # optimizer or DDP (they are rebuilt from tea_cfg)
        self._teachers: List[nn.Module] = teachers
        self.teacher_loss = MODELS.build(teacher_loss) if teachers else None
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))

    @staticmethod
    def _distillation(value):
        """(in-place loss cfg or None, teachers, teacher loss cfg)."""
        kl = dict(type='gml.KDLoss', temperature=1.0)
        if value == 'default':
            return kl, [], None
        if value is None:
            return None, [], None
        if not isinstance(value, dict):
            raise ConfigError(f'algorithm.distillation: expected a loss '
                              f'config or dict(tea_cfg=..., ...), found '
                              f'{value!r}')
        if 'type' in value:  # the in-place loss itself
            return dict(value), [], None
        unknown = set(value) - set(DISTILLATION_KEYS)
        if unknown:
            raise ConfigError(
                f'algorithm.distillation: unknown keys {sorted(unknown)}; '
                f'expected a loss config (with type) or the keys '
                f'{list(DISTILLATION_KEYS)}')
        from ...models.distillers import build_teacher, teacher_keys
        teachers = []
        if value.get('tea_cfg') is not None:
            teachers = [build_teacher(cfg, key) for cfg, key in teacher_keys(
                value['tea_cfg'], 'algorithm.distillation.tea_cfg')]
        inplace = value.get('inplace_loss', kl)
        teacher_loss = value.get('teacher_loss', kl)
        if teachers and not teacher_loss:
            raise ConfigError('algorithm.distillation.teacher_loss: expected '
                              'a loss config for the teachers\' soft labels, '
                              f'found {teacher_loss!r}')
        return inplace, teachers, teacher_loss

    @property
    def teachers(self) -> List[nn.Module]:
        """The frozen teachers of ``distillation.tea_cfg`` (eval mode)."""
        return self._teachers

    def teacher_logits(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Every teacher's logits for ``inputs`` (no gradient)."""
        from ...models.distillers import run_model
        logits = []
        with torch.no_grad():
            for teacher in self._teachers:
                teacher.to(inputs.device).eval()
                logits.append(run_model(teacher, inputs))
        return logits

    def teachers_term(self, logits: torch.Tensor,
                      teacher_logits: List[torch.Tensor]) -> torch.Tensor:
        """``teacher_loss`` of ``logits`` against each teacher's, averaged
        over the teachers."""
        return sum(self.teacher_loss(logits, t) for t in teacher_logits) / \
            len(teacher_logits)

    # -- subnets ---------------------------------------------------------
    def set_subnet(self, config: Optional[Dict[str, int]]) -> None:
        """Run the model as subnet ``config`` (None: the full model)."""
        self.mutator.set_subnet(config)

    def _head_loss(self, feats, samples) -> torch.Tensor:
        loss, _ = self.parse_losses(self.model.head.loss(feats, samples))
        return loss

    # -- training --------------------------------------------------------
    def arch_step(self, inputs: torch.Tensor,
                  samples) -> Dict[str, torch.Tensor]:
        """One update of the architecture parameters (weights untouched)."""
        alphas = self.mutator.arch_leaves()
        self.mutator.set_soft(alphas)
        try:
            with batch_statistics_only(self.model):
                feats = self.model.extract_feat(inputs)
            task = self._head_loss(feats, samples)
            expected = self.mutator.expected_flops(alphas)
            budget = self.flops_loss(expected)
            names = list(alphas)
            grads = torch.autograd.grad(task + budget,
                                        [alphas[n] for n in names],
                                        allow_unused=True)
        finally:
            self.mutator.set_subnet(None)
        self.mutator.arch_update(dict(zip(names, grads)))
        return dict(arch_task_loss=task.detach(),
                    arch_flops_loss=budget.detach(),
                    expected_mflops=expected.detach())

    def arch_due(self, iteration: int) -> bool:
        return iteration >= self.arch_start and \
            (iteration - self.arch_start) % self.arch_freq == 0

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        data = self.data_preprocessor(data, True)
        inputs, samples = data['inputs'], data['data_samples']
        iteration = int(self.iteration)
        started = iteration >= self.arch_start
        log: Dict[str, torch.Tensor] = {}
        if self.arch_due(iteration):
            log.update(self.arch_step(inputs, samples))
        teacher = None
        head = self.model.head
        outside = self.teacher_logits(inputs) if self._teachers else None

        def subnet_loss(index, kind):
            nonlocal teacher
            self.set_subnet(self.mutator.sample(
                kind, started, iteration - self.arch_start))
            feats = self.model.extract_feat(inputs)
            logits = head(feats) if outside or self.distill else None
            if teacher is None and kind == 'max':
                if self.distill is not None:
                    teacher = logits.detach()
                loss = self._head_loss(feats, samples)
            elif teacher is not None:
                loss = self.distill(logits, teacher)
            else:
                loss = self._head_loss(feats, samples)
            if outside:
                loss = loss + self.teachers_term(logits, outside)
            return loss

        try:
            losses = sandwich_step(self, optim_wrapper,
                                   self.mutator.sample_types, subnet_loss)
        finally:
            self.set_subnet(None)
        self.iteration += 1
        log.update(losses)
        log['loss'] = sum(losses.values())
        return log

    # -- after training --------------------------------------------------
    def pruned_model(self, subnet: Optional[Dict[str, int]] = None):
        """A copy of the model cut to ``subnet`` (None: full width): really
        smaller tensors and none of the mutator's masks."""
        return self.cut(subnet)[0]

    def cut(self, subnet: Optional[Dict[str, int]] = None,
            verify: bool = True):
        """``(model, spec)``: a copy of the model cut to ``subnet`` and the
        shapes and attributes it changed (see :func:`prune_`). ``verify``:
        check that the cut model computes what the masked model computes
        (ConfigError naming the largest difference if not)."""
        import copy

        from ...models.pruning.shrink import prune_
        model = copy.deepcopy(self.model)
        self.mutator.masks.strip(model)
        spec = dict(shapes={}, attributes={})
        if subnet is not None:
            spec = prune_(model, self.mutator.graph, subnet)
            if verify:
                self._verify_cut(model, subnet)
        return model, spec

    @torch.no_grad()
    def _verify_cut(self, model: nn.Module, subnet: Dict[str, int]) -> None:
        param = next(self.model.parameters())
        generator = torch.Generator().manual_seed(0)
        x = torch.randn((2, ) + tuple(self.mutator.input_shape[1:]),
                        generator=generator).to(param.device)
        training = self.model.training
        self.model.eval()
        try:
            self.set_subnet(subnet)
            masked = self.model.head(self.model.extract_feat(x))
        finally:
            self.set_subnet(None)
            self.model.train(training)
        model.eval()
        cut = model.head(model.extract_feat(x))
        diff = float((masked - cut).abs().max())
        if not diff <= 1e-3 * max(1.0, float(masked.abs().max())):
            raise ConfigError(
                f'pruning: the cut model computes other logits than the '
                f'masked model (max difference {diff:.3g}): a layer bakes '
                'a channel count into its forward; list it in '
                'mutator.fixed_layers to keep its channels whole')

    def final_archs(self, num: Optional[int] = None,
                    tolerance: Optional[float] = None,
                    max_tries: int = 20000) -> dict:
        """The expected-sampling architecture (brought within ``tolerance``
        of the target by following the keep probabilities) and up to
        ``num`` (default ``arch_sample_num``) direct samples within
        ``tolerance``. Returns ``dict(target, expected, samples, tries)``,
        each architecture as ``dict(subnet=..., mflops=...)``."""
        num = self.arch_sample_num if num is None else num
        tolerance = self.sample_tolerance if tolerance is None else tolerance
        mutator, target = self.mutator, self.target_flops
        expected = mutator.fit_to_budget(mutator.sample('expected'), target,
                                         tolerance)
        samples, tries = [], 0
        while len(samples) < num and tries < max_tries:
            tries += 1
            subnet = mutator.sample('direct')
            flops = mutator.subnet_flops(subnet)
            if abs(flops - target) <= tolerance * target:
                samples.append(dict(subnet=subnet, mflops=flops))
        return dict(target=target, tolerance=tolerance,
                    expected=dict(subnet=expected,
                                  mflops=mutator.subnet_flops(expected)),
                    samples=samples, tries=tries)
