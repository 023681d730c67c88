"""Retraining a model in MESS form by re-projection."""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...errors import ConfigError
from ...registry import HOOKS
from ...utils.checks import check_int


@HOOKS.register_module()
class MESSHook(Hook):
    """Project the model onto its MESS form before training, train the
    dense weights as usual, and re-project (search, quantize, overwrite)
    after every ``interval`` epochs once ``warmup_epochs`` have passed,
    and always after the last epoch, so every validation after a
    projection and every checkpoint saved then holds a model the ``.mess``
    file stores exactly. Each projection logs how many indices k changed
    since the previous one (``mess/changed_indices``) and the relative
    change of the shared weights (``mess/relative_change``).

    ``v2f`` keeps the indices of the first projection and refits alpha and
    beta only; the indices are saved in checkpoints (``checkpoint['mess']``)
    and restored on resume.

    After training, the final projection is written to ``out_file`` (in
    the work dir unless absolute): the ``.mess`` file of exactly the model
    of the last checkpoint (``tools/mess_decompress.py`` rebuilds it).

    Args:
        version: ``v2``, ``v2q``, ``v2qq``, ``v2nb`` or ``v2f``.
        qb, qba, qbb: bits of the weights, alpha and beta (1 to 8).
        pointwise: share the 1x1 convs: ``'auto'`` (only in models with
            depthwise convs), True or False.
        slice_size: input channels per pointwise slice.
        warmup_epochs: epochs trained after the first projection before
            re-projections start (the first comes after epoch
            ``warmup_epochs + interval``).
        interval: epochs between re-projections.
        out_file: the ``.mess`` file written after training (None: none).
    """

    priority = 'ABOVE_NORMAL'  # before the checkpoint and logger hooks

    def __init__(self, version: str = 'v2qq', qb: int = 8, qba: int = 8,
                 qbb: int = 8, pointwise='auto', slice_size: int = 8,
                 warmup_epochs: int = 0, interval: int = 1,
                 out_file: Optional[str] = 'model.mess'):
        from ...models.mess import MESSOptions
        self.options = MESSOptions.create(
            'MESSHook.', version=version, qb=qb, qba=qba, qbb=qbb,
            pointwise=pointwise, slice_size=slice_size)
        self.warmup_epochs = check_int(warmup_epochs,
                                       'MESSHook.warmup_epochs', 0)
        self.interval = check_int(interval, 'MESSHook.interval', 1)
        if out_file is not None and not isinstance(out_file, str):
            raise ConfigError(f'MESSHook.out_file: expected a file name or '
                              f'None, found {out_file!r}')
        self.out_file = out_file
        self._last = None  # (projection, iteration) of the latest one
        self.indices: Optional[Dict[str, torch.Tensor]] = None
        self.fixed: Optional[Dict[str, torch.Tensor]] = None
        self.history = []

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def project(self, runner, when: str) -> dict:
        """Project the runner's model now; log and return the counts."""
        from ...models.mess import project
        fixed = self.fixed if self.options.fixed_index else None
        projection = project(self._model(runner), self.options, fixed)
        total = projection.num_pieces
        changed = total if self.indices is None else \
            projection.changed(self.indices)
        self.indices = projection.indices()
        self._last = (projection, runner.iter)
        if self.options.fixed_index and self.fixed is None:
            self.fixed = {k: v.clone() for k, v in self.indices.items()}
        record = dict(when=when, changed=changed, total=total,
                      relative_change=projection.mean_error())
        self.history.append(record)
        runner.message_hub.update_scalar('mess/changed_indices', changed)
        runner.message_hub.update_scalar('mess/relative_change',
                                         record['relative_change'])
        first = len(self.history) == 1
        runner.logger.info(
            f'MESS {self.options.version} projection {when}: '
            + (f'{total} kernels searched' if first else
               f'{changed} of {total} indices k changed '
               f'({100.0 * changed / max(total, 1):.2f}%)')
            + f', mean relative weight change '
            f'{record["relative_change"]:.4f}')
        return record

    def before_train(self, runner) -> None:
        self.project(runner, 'before training')

    def after_train_epoch(self, runner) -> None:
        done = runner.epoch + 1  # epochs trained so far
        last = done >= runner.max_epochs
        due = done > self.warmup_epochs and \
            (done - self.warmup_epochs) % self.interval == 0
        if due or last:
            self.project(runner, f'after epoch {done}')

    def after_train(self, runner) -> None:
        from mmengine.dist import is_main_process

        from ...models.mess import kernel_sizes, write_mess
        if self._last is None or self._last[1] != runner.iter:
            self.project(runner, 'after training')
        if self.out_file is None or not is_main_process():
            return
        path = self.out_file if osp.isabs(self.out_file) else \
            osp.join(runner.work_dir, self.out_file)
        header = write_mess(path, self._last[0],
                            self._model(runner).state_dict(),
                            dict(epochs=runner.epoch, iters=runner.iter))
        kernels = kernel_sizes(header)['all']
        runner.logger.info(
            f'MESS: wrote {path}: {header["file_bytes"]:,} bytes; the '
            f'shared kernels take {kernels["bits_per_piece"]:.2f} bits '
            f'each, {kernels["ratio_fp32"]:.2f}x smaller than float32')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.indices is not None:
            checkpoint['mess'] = dict(
                options=self.options.to_dict(), indices=self.indices,
                fixed=self.fixed)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('mess')
        if not isinstance(saved, dict):
            return
        self.indices = saved.get('indices')
        if self.options.fixed_index and saved.get('fixed') is not None:
            self.fixed = saved['fixed']
