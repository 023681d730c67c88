"""Evaluating fixed subnets of a supernet during training."""
from typing import Dict, Optional, Sequence, Union

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...errors import ConfigError
from ...registry import HOOKS, MODELS
from ..subnet_eval import calibrate_subnet, evaluate_algorithm


@HOOKS.register_module()
class DynamicDistEvalHook(Hook):
    """Every ``interval`` epochs, evaluate chosen subnets after BN
    recalibration, and log their accuracy and cost. Before every regular
    validation, the largest subnet is recalibrated, so the validation (and
    the best checkpoint) measures it with its own statistics; after the
    subnet evaluation the largest subnet is recalibrated again, so the epoch
    checkpoint holds its statistics too (and the validation reuses them).

    Args:
        interval: epochs between evaluations.
        subnets: ``'max'``, ``'min'``, ``'random'`` or explicit configs of
            the model's ``arch_space()`` (default: max and min).
        evaluator: cost evaluator config (``dict(type='NaiveEvaluator',
            units='M', default_shape=(1, 3, 224, 224))``), or None.
        bn_stats_calib_kwargs: ``num_iters`` (training batches used to
            recalibrate BN; -1 = all) and ``sync_params`` (average the
            statistics over processes).
        gpu_collect: accepted for the guide's configs; results are always
            collected by mmengine's evaluator.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1,
                 subnets: Sequence[Union[str, dict]] = ('max', 'min'),
                 evaluator: Optional[dict] = None,
                 bn_stats_calib_kwargs: Optional[dict] = None,
                 gpu_collect: bool = True):
        if not isinstance(interval, int) or interval < 1:
            raise ConfigError(f'DynamicDistEvalHook.interval: expected an '
                              f'integer >= 1, found {interval!r}')
        self.interval = interval
        self.subnets = list(subnets)
        evaluator = dict(evaluator) if evaluator else None
        if evaluator is not None:
            evaluator.setdefault('_scope_', 'gml')
        self.cost = MODELS.build(evaluator) if evaluator else None
        calib = dict(num_iters=-1, sync_params=True)
        calib.update(bn_stats_calib_kwargs or {})
        unknown = set(calib) - {'num_iters', 'sync_params'}
        if unknown:
            raise ConfigError(f'DynamicDistEvalHook.bn_stats_calib_kwargs: '
                              f'unknown keys {sorted(unknown)}')
        self.num_iters = int(calib['num_iters'])
        self._max_calibrated_at: Optional[int] = None
        self.sync = bool(calib['sync_params'])

    def _subnet(self, algorithm, which) -> dict:
        if isinstance(which, dict):
            return which
        return algorithm.mutator.sample(which)

    @staticmethod
    def _algorithm(runner):
        return runner.model.module if is_model_wrapper(runner.model) \
            else runner.model

    def _calibrate(self, runner, algorithm, config) -> None:
        """Activate ``config`` and recalibrate BN on training batches."""
        calibrate_subnet(algorithm, config, runner.train_dataloader,
                         self.num_iters, self.sync)

    def evaluate_subnets(self, runner) -> Dict[str, float]:
        """Recalibrate and evaluate every subnet; return flat metrics."""
        algorithm = self._algorithm(runner)
        model = algorithm.model
        metrics: Dict[str, float] = {}
        for index, which in enumerate(self.subnets):
            name = which if isinstance(which, str) else f'subnet{index}'
            self._calibrate(runner, algorithm,
                            self._subnet(algorithm, which))
            results = self._validate(runner, algorithm)
            metrics.update({f'{name}/{k}': v for k, v in results.items()})
            if self.cost is not None:
                cost = self.cost.evaluate(model)
                metrics.update({f'{name}/{k}': v for k, v in cost.items()})
        return metrics

    @staticmethod
    def _validate(runner, algorithm) -> Dict[str, float]:
        loop = runner.val_loop
        return evaluate_algorithm(algorithm, loop.dataloader, loop.evaluator,
                                  size=len(loop.dataloader.dataset))

    def before_val_epoch(self, runner) -> None:
        """The regular validation evaluates the largest subnet with its own
        recalibrated statistics (the supernet's running statistics mix all
        subnets and describe none)."""
        if self._max_calibrated_at == runner.iter:
            return  # done after this epoch's training; nothing trained since
        self._calibrate_max(runner)

    def _calibrate_max(self, runner) -> None:
        algorithm = self._algorithm(runner)
        self._calibrate(runner, algorithm, algorithm.mutator.sample('max'))
        self._max_calibrated_at = runner.iter

    def after_train_epoch(self, runner) -> None:
        if not self.every_n_epochs(runner, self.interval):
            return
        metrics = self.evaluate_subnets(runner)
        for key, value in metrics.items():
            runner.message_hub.update_scalar(f'subnets/{key}', value)
        summary = ', '.join(f'{k}: {v:.4g}' for k, v in metrics.items())
        runner.logger.info(f'Epoch(subnets) [{runner.epoch + 1}] {summary}')
        # The epoch checkpoint is saved next: leave the largest subnet's own
        # statistics in BN, not those of the last subnet evaluated.
        self._calibrate_max(runner)
