"""Supernet backbones (weight-sharing slice backbones for one-shot NAS)."""
from .resnet_slice import ResNetSlice  # noqa: F401
from .shufflenet_v2_oneshot import ShuffleNetV2_OneShot  # noqa: F401
from .mobilenet_v3_slice import MobileNetV3Slice  # noqa: F401
