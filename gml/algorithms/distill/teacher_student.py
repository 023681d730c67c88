"""Teacher-student distillation around any model."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from ...errors import ConfigError
from ...models.distillers import build_distiller, run_model
from ...registry import ALGORITHMS, MODELS
from ...utils.weights import load_weights
from ..base import BaseAlgorithm


#: Epochs a connector with a ``pretrain_criterion`` (Factor Transfer's
#: paraphraser) is pretrained for when ``connector_pretrain_epochs`` is not
#: given: the Factor Transfer authors' code trains the paraphraser for 5
#: epochs before the student's 200 (see docs/kd.md).
DEFAULT_CONNECTOR_PRETRAIN_EPOCHS = 5


def current_epoch() -> int:
    """The Runner's current epoch (0 outside a Runner).

    Read from mmengine's message hub, which the Runner restores on resume,
    so stage switches keyed on it survive a restart.
    """
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    return int(hub.get_info('epoch', 0) or 0)


def _forget_logged(prefix: str) -> None:
    """Drop the message hub's scalars under ``prefix``: mmengine's log
    lines repeat every scalar ever logged, so a finished stage's losses
    would be printed, stale, for the rest of the run."""
    from mmengine.logging import MessageHub
    scalars = MessageHub.get_current_instance().log_scalars
    for key in [k for k in scalars if k.startswith(prefix)]:
        scalars.pop(key)


@ALGORITHMS.register_module()
class TeacherStudentDistillation(BaseAlgorithm):
    """Train ``model`` (the student) with its own loss plus distillation.

    Args:
        model: the student.
        distill_cfg: teachers and heads, see
            :class:`~gml.models.distillers.TeacherDistiller`.
        distiller: ``dict(type='TeacherDistiller')`` (the default).
        use_meal: MEAL V2: targets are the teachers' averaged softmax, no
            hard labels, plus a discriminator on logits (``meal_cfg``).
        meal_cfg: ``student_module`` / ``teacher_module`` holding the logits
            (``'head.fc'``), ``discriminator`` (a LogitDiscriminator config;
            ``None`` disables it) and ``adversarial_weight`` (1.0).
        pretrained: a checkpoint to initialise the student from.
        student_loss_weight: scales the student's own loss (0 drops it).
        connector_pretrain_epochs: epochs during which only the connectors
            with a ``pretrain_criterion`` train (Factor Transfer's
            paraphraser), before the student trains; they are frozen after.
            None (the default): :data:`DEFAULT_CONNECTOR_PRETRAIN_EPOCHS`
            (5, the Factor Transfer authors' setting) when a connector has a
            ``pretrain_criterion``, else 0. 0 with such a connector is a
            ConfigError (the connector would stay at its random init).
        input_shape: when given, e.g. ``(2, 3, 32, 32)``, a forward of zeros
            at build time checks that every head's features fit; otherwise
            the check runs on the first training batch, before any update.
    """

    def __init__(self, model, distill_cfg: Optional[dict] = None,
                 distiller: Optional[dict] = None, use_meal: bool = False,
                 meal_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 student_loss_weight: float = 1.0,
                 connector_pretrain_epochs: Optional[int] = None,
                 input_shape: Optional[Sequence[int]] = None,
                 data_preprocessor=None, init_cfg=None):
        super().__init__(model, data_preprocessor, init_cfg)
        if pretrained:
            load_weights(self.model, pretrained, 'algorithm.pretrained')
        if distill_cfg is None:
            raise ConfigError(
                'algorithm.distill_cfg: expected the teachers and heads, '
                'e.g. dict(teacher=dict(model=..., ckpt_path=..., '
                'distill_head_cfg=[dict(student_module=..., '
                'teacher_module=..., head=...)])), found none')
        self.distiller = build_distiller(distiller, distill_cfg)
        self.distiller.attach(self.model)
        self.student_loss_weight = float(student_loss_weight)
        self.connector_pretrain_epochs = self._pretrain_epochs(
            connector_pretrain_epochs)
        self._warned_short_run = False
        self.use_meal = bool(use_meal)
        self.discriminator = None
        if self.use_meal:
            self._setup_meal(dict(meal_cfg or {}))
        self._shapes_checked = False
        if input_shape is not None:
            self._dry_run(torch.zeros(*input_shape))

    def _pretrain_epochs(self, epochs: Optional[int]) -> int:
        key = 'algorithm.connector_pretrain_epochs'
        pretrained = self.distiller.pretrained_connectors()
        if epochs is None:
            return DEFAULT_CONNECTOR_PRETRAIN_EPOCHS if pretrained else 0
        if isinstance(epochs, bool) or not isinstance(epochs, int) or \
                epochs < 0:
            raise ConfigError(f'{key}: expected an integer >= 0, found '
                              f'{epochs!r}')
        if epochs and not pretrained:
            raise ConfigError(f'{key}: expected 0 (no connector has a '
                              f'pretrain_criterion), found {epochs}')
        if not epochs and pretrained:
            raise ConfigError(
                f'{key}: expected >= 1 (the default is '
                f'{DEFAULT_CONNECTOR_PRETRAIN_EPOCHS}), found 0: a connector '
                'with a pretrain_criterion would stay at its random init; '
                'remove its pretrain_criterion to train it with the student')
        return epochs

    # -- MEAL V2 -----------------------------------------------------------
    def _setup_meal(self, cfg: dict) -> None:
        unknown = set(cfg) - {'student_module', 'teacher_module',
                              'discriminator', 'adversarial_weight'}
        if unknown:
            raise ConfigError(f'algorithm.meal_cfg: unknown keys '
                              f'{sorted(unknown)}')
        recorder = self.distiller.recorder
        self._meal_student = recorder.watch(
            self.model, cfg.get('student_module', 'head.fc'), 'output',
            'algorithm.meal_cfg.student_module')
        self._meal_teachers = [
            recorder.watch(t, cfg.get('teacher_module', 'head.fc'), 'output',
                           'algorithm.meal_cfg.teacher_module')
            for t in self.distiller.teachers]
        disc = cfg.get('discriminator', 'default')
        if disc is not None:
            if disc == 'default':
                num_classes = self._num_classes()
                disc = dict(type='gml.LogitDiscriminator',
                            in_channels=num_classes)
            self.discriminator = MODELS.build(disc)
        self.adversarial_weight = float(cfg.get('adversarial_weight', 1.0))
        self.student_loss_weight = 0.0  # MEAL V2 uses no hard labels

    def _num_classes(self) -> int:
        head = getattr(self.model, 'head', None)
        if head is None or not hasattr(head, 'num_classes'):
            raise ConfigError('algorithm.meal_cfg.discriminator: cannot infer '
                              'the number of classes; give the discriminator '
                              'config with in_channels')
        return int(head.num_classes)

    def _meal_losses(self) -> Dict[str, torch.Tensor]:
        recorder = self.distiller.recorder
        student = recorder.get(self._meal_student)
        teachers = [recorder.get(k) for k in self._meal_teachers]
        target = torch.stack([F.softmax(t, 1) for t in teachers]).mean(0)
        losses = {'loss_meal': -(target * F.log_softmax(student, 1))
                  .sum(1).mean()}
        if self.discriminator is not None:
            mean_logits = torch.stack(teachers).mean(0)
            scores = self.discriminator(torch.cat([student, mean_logits]))
            labels = torch.cat([torch.zeros(len(student)),
                                torch.ones(len(mean_logits))]).long()
            losses['loss_discriminator'] = self.adversarial_weight * \
                F.cross_entropy(scores, labels.to(scores.device))
        return losses

    # -- the step ----------------------------------------------------------
    def stage(self) -> str:
        """``'pretrain'`` (connector pretraining) or ``'distill'``."""
        return 'pretrain' if current_epoch() < \
            self.connector_pretrain_epochs else 'distill'

    def train(self, mode: bool = True):
        super().train(mode)
        self.distiller.train(mode)  # keeps the teachers in eval mode
        return self

    def _dry_run(self, inputs: torch.Tensor) -> None:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                run_model(self.model, inputs)
                self.distiller.teacher_forward(inputs)
                self.distiller.check_shapes()
        finally:
            self.distiller.recorder.clear()
            self.train(was_training)
        self._shapes_checked = True

    def student_losses(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        """The student's own losses (``student_<key>``), scaled by
        ``student_loss_weight``; mmengine logs their sum with the rest as
        ``loss``."""
        losses = self.model(inputs, data_samples, mode='loss')
        if self.student_loss_weight == 0.0:
            return {}
        weight = self.student_loss_weight
        return {f'student_{k}': v * weight if 'loss' in k and weight != 1.0
                else v for k, v in losses.items()}

    def _teachers_and_check(self, inputs) -> None:
        self.distiller.teacher_forward(inputs)
        if not self._shapes_checked:
            self.distiller.check_shapes()
            self._shapes_checked = True

    def head_only_losses(self, inputs) -> Dict[str, torch.Tensor]:
        """Only the heads' losses (the student runs without its own loss)."""
        run_model(self.model, inputs)
        self._teachers_and_check(inputs)
        return self.distiller.head_losses()

    def distill_losses(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        """Student loss + every head (+ MEAL); features recorded by hooks."""
        losses = self.student_losses(inputs, data_samples)
        self._teachers_and_check(inputs)
        losses.update(self.distiller.head_losses())
        if self.use_meal:
            losses.update(self._meal_losses())
        return losses

    def _warn_if_the_run_is_all_pretraining(self) -> None:
        """Once: a run that ends before the student's first epoch."""
        if self._warned_short_run:
            return
        self._warned_short_run = True
        from mmengine.logging import MessageHub, print_log
        max_epochs = MessageHub.get_current_instance().get_info('max_epochs')
        if max_epochs and int(max_epochs) <= self.connector_pretrain_epochs:
            print_log(
                f'algorithm.connector_pretrain_epochs: the run has '
                f'{max_epochs} epoch(s), all spent pretraining the connectors '
                f'({self.connector_pretrain_epochs} epochs); the student '
                'never trains. Give train_cfg.max_epochs more than '
                f'{self.connector_pretrain_epochs}.', logger='current',
                level=logging.WARNING)

    def pretrain_losses(self, inputs) -> Dict[str, torch.Tensor]:
        """The connectors' reconstruction losses; the student (run in eval
        mode without gradient, only if a student-side connector needs its
        feature) and the teachers are left unchanged."""
        if self.distiller.needs_student_features():
            was_training = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    run_model(self.model, inputs)
            finally:
                self.model.train(was_training)
        self.distiller.teacher_forward(inputs)
        return self.distiller.head_losses(pretrain=True)

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        pretrain = self.stage() == 'pretrain'
        for connector in self.distiller.pretrained_connectors():
            connector.requires_grad_(pretrain)
        try:
            if pretrain:
                self._warn_if_the_run_is_all_pretraining()
                return self.pretrain_losses(inputs)
            if self.connector_pretrain_epochs:
                _forget_logged('train/loss_pretrain_')
            return self.distill_losses(inputs, data_samples)
        finally:
            self.distiller.recorder.clear()

    def forward(self, inputs, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        try:
            return super().forward(inputs, data_samples, mode)
        finally:
            self.distiller.recorder.clear()

    def student_state_dict(self) -> Dict[str, torch.Tensor]:
        """The student's weights, keyed as the plain student model."""
        return self.model.state_dict()


@ALGORITHMS.register_module()
class ImageClassifierDistiller(TeacherStudentDistillation):
    """The design guide's name for teacher-student distillation of image
    classifiers; identical to :class:`TeacherStudentDistillation`."""

