"""Distillation from one or several frozen teachers through feature hooks."""
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...errors import ConfigError
from ...registry import MODELS, build_model
from ...utils.weights import load_weights
from .head import BaseDistillationHead
from .recorder import FeatureRecorder, shape_of


@dataclass
class HeadLink:
    """Which student and teacher modules feed one distillation head."""
    teacher: int
    student_module: str
    teacher_module: str
    student_key: Tuple = ()
    teacher_key: Tuple = ()


def run_model(model: nn.Module, inputs: torch.Tensor):
    """Forward ``inputs`` through an mmengine model or a plain module."""
    from mmengine.model import BaseModel
    if isinstance(model, BaseModel):
        return model(inputs, mode='tensor')
    return model(inputs)


def _as_list(value, key: str) -> List[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, (list, tuple)) and value and \
            all(isinstance(v, dict) for v in value):
        return list(value)
    raise ConfigError(f'{key}: expected a dict or a list of dicts, found '
                      f'{value!r}')


def teacher_keys(value, key: str) -> List[Tuple[dict, str]]:
    """``(teacher config, its key path)`` for one dict (``key``) or a list
    (``key[i]``)."""
    configs = _as_list(value, key)
    if isinstance(value, dict):
        return [(configs[0], key)]
    return [(c, f'{key}[{i}]') for i, c in enumerate(configs)]


def build_teacher(cfg: dict, key: str) -> nn.Module:
    """A frozen teacher (eval mode, no gradient) from ``dict(model=...,
    ckpt_path=...)``; ``key`` names the config entry in messages."""
    if not isinstance(cfg, dict):
        raise ConfigError(f'{key}: expected dict(model=..., ckpt_path=...), '
                          f'found {cfg!r}')
    if 'model' not in cfg or cfg['model'] is None:
        raise ConfigError(f'{key}.model: expected the teacher model config, '
                          'found none')
    teacher = cfg['model'] if isinstance(cfg['model'], nn.Module) \
        else build_model(cfg['model'])
    ckpt = cfg.get('ckpt_path')
    if ckpt:
        load_teacher_checkpoint(teacher, ckpt, f'{key}.ckpt_path')
    else:
        warnings.warn(f'{key}.ckpt_path is empty: the teacher is '
                      'untrained (randomly initialised)')
    teacher.requires_grad_(False)
    teacher.eval()
    return teacher


def load_teacher_checkpoint(teacher: nn.Module, path: str, key: str) -> None:
    """Load ``path`` into ``teacher``; a file torch cannot read (random
    bytes, a truncated download) is one ConfigError naming ``key``."""
    if not isinstance(path, str):
        raise ConfigError(f'{key}: expected a checkpoint path, found '
                          f'{path!r}')
    load_weights(teacher, path, key)


def build_distiller(cfg: Optional[dict], distill_cfg: dict) -> nn.Module:
    """The distiller of a teacher-student algorithm (``algorithm.distiller``,
    default ``TeacherDistiller``) built from ``distill_cfg``."""
    cfg = dict(cfg or dict(type='gml.TeacherDistiller'))
    cfg.setdefault('type', 'gml.TeacherDistiller')
    obj_type = cfg['type']
    cls = MODELS.get(obj_type) if isinstance(obj_type, str) else obj_type
    if cls is InplaceDistiller:
        raise ConfigError(
            f'algorithm.distiller: expected a teacher-student distiller '
            f"(dict(type='TeacherDistiller')), found {obj_type!r}: in-place "
            'distillation (the largest subnet teaching the smaller ones of '
            'the same step) has no teacher model and is configured on the '
            "supernet instead: the BigNAS head's distiller_mode='soft' "
            '(docs/nas.md), or gml.DMCP\'s algorithm.distillation '
            '(docs/pruning.md)')
    if 'distill_cfg' in cfg:
        raise ConfigError('algorithm.distiller.distill_cfg: expected it one '
                          'level up, as algorithm.distill_cfg')
    cfg['distill_cfg'] = distill_cfg
    if cls is not None:
        cfg['type'] = cls
    return MODELS.build(cfg)


@MODELS.register_module()
class TeacherDistiller(nn.Module):
    """Teachers, the hooks that record features, and the distillation heads.

    Built from the algorithm's ``distill_cfg``:

    - ``teacher``: one dict or a list, each ``dict(model=..., ckpt_path=...,
      distill_head_cfg=[...])``; an empty ``ckpt_path`` warns that the teacher
      is untrained.
    - ``distill_head_cfg``: heads for the first (or only) teacher, each
      ``dict(student_module=..., teacher_module=..., head=dict(...))`` with
      optional ``student_record`` / ``teacher_record`` = ``'output'``
      (default) or ``'input'`` (e.g. a ReLU's input for pre-activation
      features).

    Teachers stay in eval mode, take no gradient and are never updated.
    """

    def __init__(self, distill_cfg: dict):
        super().__init__()
        if not isinstance(distill_cfg, dict):
            raise ConfigError(f'algorithm.distill_cfg: expected a dict, found '
                              f'{distill_cfg!r}')
        unknown = set(distill_cfg) - {'teacher', 'distill_head_cfg'}
        if unknown:
            raise ConfigError(f'algorithm.distill_cfg: unknown keys '
                              f'{sorted(unknown)}; expected teacher and '
                              'distill_head_cfg')
        if 'teacher' not in distill_cfg:
            raise ConfigError('algorithm.distill_cfg.teacher: expected the '
                              'teacher model(s), found none')
        teachers = teacher_keys(distill_cfg['teacher'],
                                'algorithm.distill_cfg.teacher')
        self.teachers = nn.ModuleList()
        self.heads = nn.ModuleList()
        self.links: List[HeadLink] = []
        shared_heads = self._head_list(distill_cfg.get('distill_head_cfg'),
                                       'algorithm.distill_cfg.distill_head_cfg')
        for index, (teacher_cfg, key) in enumerate(teachers):
            self.teachers.append(build_teacher(teacher_cfg, key))
            heads = [(h, f'{key}.distill_head_cfg[{i}]') for i, h in
                     enumerate(self._head_list(
                         teacher_cfg.get('distill_head_cfg'),
                         f'{key}.distill_head_cfg'))]
            if index == 0:
                heads = [(h, f'algorithm.distill_cfg.distill_head_cfg[{i}]')
                         for i, h in enumerate(shared_heads)] + heads
            for head_cfg, head_key in heads:
                self._add_head(index, head_cfg, head_key)
        self.recorder = FeatureRecorder()

    @staticmethod
    def _head_list(value, key: str) -> List[dict]:
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{key}: expected a list of dict('
                              'student_module=..., teacher_module=..., '
                              f'head=...), found {value!r}')
        return list(value)

    _HEAD_KEYS = {
        'student_module': "the student's module to supervise, e.g. "
                          "'backbone.layer4'",
        'teacher_module': "the teacher's module it learns from, e.g. "
                          "'backbone.layer4'",
        'head': "dict(type='BaseDistillationHead', name=..., loss=...)"}

    def _add_head(self, teacher: int, cfg: dict, key: str) -> None:
        if not isinstance(cfg, dict):
            raise ConfigError(f'{key}: expected dict(student_module=..., '
                              f'teacher_module=..., head=...), found {cfg!r}')
        for required, meaning in self._HEAD_KEYS.items():
            if cfg.get(required) is None:
                raise ConfigError(f'{key}.{required}: expected {meaning}, '
                                  'found none')
        unknown = set(cfg) - set(self._HEAD_KEYS) - {'student_record',
                                                      'teacher_record'}
        if unknown:
            raise ConfigError(f'{key}: unknown keys {sorted(unknown)}; '
                              'expected student_module, teacher_module, '
                              'head, student_record, teacher_record')
        head = MODELS.build(cfg['head'])
        if not isinstance(head, BaseDistillationHead):
            raise ConfigError(f'{key}.head: expected a distillation head, '
                              f'found {type(head).__name__}')
        self.heads.append(head)
        self.links.append(HeadLink(
            teacher, cfg['student_module'], cfg['teacher_module'],
            (cfg.get('student_record', 'output'), key),
            (cfg.get('teacher_record', 'output'), key)))

    # -- wiring -------------------------------------------------------------
    def attach(self, student: nn.Module) -> None:
        """Hook the named modules of the student and teachers."""
        for link in self.links:
            record, key = link.student_key
            link.student_key = self.recorder.watch(
                student, link.student_module, record,
                f'{key}.student_module')
            record, key = link.teacher_key
            link.teacher_key = self.recorder.watch(
                self.teachers[link.teacher], link.teacher_module, record,
                f'{key}.teacher_module')

    def train(self, mode: bool = True):
        super().train(mode)
        for teacher in self.teachers:
            teacher.eval()  # teachers never leave eval mode
        return self

    def teacher_forward(self, inputs: torch.Tensor) -> List[torch.Tensor]:
        """Run every teacher (no gradient); their hooks record features."""
        with torch.no_grad():
            return [run_model(t, inputs) for t in self.teachers]

    def features(self, link: HeadLink):
        return self.recorder.get(link.student_key), \
            self.recorder.get(link.teacher_key)

    def head_losses(self, pretrain: bool = False) -> Dict[str, torch.Tensor]:
        """Every head's loss on the recorded features (``loss_<name>``).

        With ``pretrain``, only the reconstruction losses of the connectors
        that have a pretraining stage: ``loss_pretrain_<name>`` (teacher
        side) and ``loss_pretrain_<name>_stu`` (student side).
        """
        losses = {}
        for link, head in zip(self.links, self.heads):
            if pretrain:
                if head.pretrains_teacher_side:
                    teacher = self.recorder.get(link.teacher_key)
                    losses[f'loss_pretrain_{head.name}'] = \
                        head.pretrain_loss(teacher)
                if head.pretrains_student_side:
                    student = self.recorder.get(link.student_key)
                    losses[f'loss_pretrain_{head.name}_stu'] = \
                        head.student_pretrain_loss(student)
            else:
                losses[f'loss_{head.name}'] = head(*self.features(link))
        return losses

    def pretrained_connectors(self) -> List[nn.Module]:
        return [c for head in self.heads for c in head.pretrained_connectors()]

    def needs_student_features(self) -> bool:
        """Whether connector pretraining reads the student's features."""
        return any(head.pretrains_student_side for head in self.heads)

    def check_shapes(self) -> None:
        """After one forward of student and teachers: every head must run.

        Raises ConfigError naming both modules and their feature shapes.
        """
        for link, head in zip(self.links, self.heads):
            student, teacher = self.features(link)
            try:
                with torch.no_grad():
                    head(student, teacher)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f'distillation head {head.name!r}: student '
                    f'{link.student_module} ({shape_of(student)}) and teacher '
                    f'{link.teacher_module} ({shape_of(teacher)}) do not fit '
                    f'its connectors and loss: {str(exc).splitlines()[0]}') \
                    from None


@MODELS.register_module()
class InplaceDistiller(nn.Module):
    """Distillation from the largest subnet of the same step.

    ``loss(student_logits, teacher_logits)`` with the teacher logits
    detached: used by supernet and pruning algorithms, where the max subnet
    teaches the smaller ones. ``loss`` defaults to soft cross-entropy.
    """

    def __init__(self, loss: Optional[dict] = None):
        super().__init__()
        self.loss = MODELS.build(loss or dict(type='gml.SoftCrossEntropyLoss'))

    def forward(self, student_logits: torch.Tensor,
                teacher_logits: torch.Tensor) -> torch.Tensor:
        return self.loss(student_logits, teacher_logits.detach())


def mean_teacher_probs(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """The average of the teachers' softmax outputs (MEAL V2 targets)."""
    return torch.stack([torch.softmax(z, dim=1) for z in logits]).mean(0)
