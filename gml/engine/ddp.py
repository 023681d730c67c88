"""Distributed data parallel that also runs on CPU (gloo) machines."""
from mmengine.model import MMDistributedDataParallel

from ..registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """mmengine's DDP wrapper, dropping ``device_ids`` for CPU models.

    mmengine always passes ``device_ids=[LOCAL_RANK]``, which torch rejects
    for a model whose parameters live on the CPU. gml's tools select this
    wrapper when a config sets none, so ``tools/dist_train.sh`` works on
    machines without a GPU.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        first = next(module.parameters(), None)
        if first is None or first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)

    def train_step(self, data, optim_wrapper):
        """Algorithms that run several forwards per step (supernets) train
        themselves and average their own gradients; the others go through
        DDP's forward as usual."""
        if getattr(self.module, 'syncs_own_gradients', False):
            with self.no_sync():  # DDP's hooks stay quiet; the module syncs
                return self.module.train_step(data, optim_wrapper)
        return super().train_step(data, optim_wrapper)
