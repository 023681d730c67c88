"""Reading mmengine checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``, which refuses
the message-hub and numpy objects that mmengine stores in every checkpoint,
so ``--resume``, ``load_from`` and ``tools/test.py`` would fail. gml
re-registers mmengine's loader for local files to load them as mmengine
wrote them. Only load checkpoints you trust, as with any pickle.
"""
import os.path as osp

from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename, map_location=None):
    """Load a local checkpoint file written by mmengine or torch.save."""
    from ..utils.weights import load_checkpoint_file
    return load_checkpoint_file(osp.expanduser(filename), 'checkpoint',
                                map_location)
