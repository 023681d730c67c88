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
    if isinstance(value, (list, tuple)) and all(isinstance(v, dict)
                                                for v in value):
        return list(value)
    raise ConfigError(f'{key}: expected a dict or a list of dicts, found '
                      f'{value!r}')


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
        teachers = _as_list(distill_cfg['teacher'],
                            'algorithm.distill_cfg.teacher')
        self.teachers = nn.ModuleList()
        self.heads = nn.ModuleList()
        self.links: List[HeadLink] = []
        shared_heads = distill_cfg.get('distill_head_cfg') or []
        for index, teacher_cfg in enumerate(teachers):
            key = f'algorithm.distill_cfg.teacher[{index}]'
            self.teachers.append(self._build_teacher(teacher_cfg, key))
            heads = list(teacher_cfg.get('distill_head_cfg') or [])
            if index == 0:
                heads = list(shared_heads) + heads
            for h, head_cfg in enumerate(heads):
                self._add_head(index, head_cfg,
                               f'{key}.distill_head_cfg[{h}]')
        for teacher in self.teachers:
            teacher.requires_grad_(False)
            teacher.eval()
        self.recorder = FeatureRecorder()

    @staticmethod
    def _build_teacher(cfg: dict, key: str) -> nn.Module:
        if 'model' not in cfg:
            raise ConfigError(f'{key}.model: expected the teacher model, '
                              'found none')
        teacher = build_model(cfg['model'])
        ckpt = cfg.get('ckpt_path')
        if ckpt:
            load_weights(teacher, ckpt, f'{key}.ckpt_path')
        else:
            warnings.warn(f'{key}.ckpt_path is empty: the teacher is '
                          'untrained (randomly initialised)')
        return teacher

    def _add_head(self, teacher: int, cfg: dict, key: str) -> None:
        for required in ('student_module', 'teacher_module', 'head'):
            if required not in cfg:
                raise ConfigError(f'{key}.{required}: expected, found none')
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
        that have a pretraining stage.
        """
        losses = {}
        for link, head in zip(self.links, self.heads):
            if pretrain:
                if head.pretrained_connectors():
                    teacher = self.recorder.get(link.teacher_key)
                    losses[f'loss_pretrain_{head.name}'] = \
                        head.pretrain_loss(teacher)
            else:
                losses[f'loss_{head.name}'] = head(*self.features(link))
        return losses

    def pretrained_connectors(self) -> List[nn.Module]:
        return [c for head in self.heads for c in head.pretrained_connectors()]

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
