"""mmpretrain's own architectures, as model configs for the zoo tests.

Each entry names a model of mmpretrain 1.2.0's model index; its config file
(``mmpretrain.apis.ModelHub``) gives the model dict, which is used as it is
(real depths and widths) with three changes: a 10-class head, no batch
augmentations (mixup / cutmix want one-hot labels), and, for the vision
transformer, ``img_size`` equal to the zoo's input size so that its
position embedding fits the patch grid without interpolation.
"""
import copy
import functools
from typing import Dict

NUM_CLASSES = 10
#: height and width of the zoo's random inputs
INPUT_SIZE = 32
INPUT_SHAPE = (1, 3, INPUT_SIZE, INPUT_SIZE)

#: zoo name -> (mmpretrain model name, changes to the backbone config)
ARCHITECTURES: Dict[str, tuple] = {
    'resnet18': ('resnet18_8xb32_in1k', {}),
    'resnet50': ('resnet50_8xb32_in1k', {}),
    'resnext50': ('resnext50-32x4d_8xb32_in1k', {}),
    'seresnet50': ('seresnet50_8xb32_in1k', {}),
    'regnetx-400mf': ('regnetx-400mf_8xb128_in1k', {}),
    'mobilenet-v2': ('mobilenet-v2_8xb32_in1k', {}),
    'mobilenet-v3-small': ('mobilenet-v3-small_8xb128_in1k', {}),
    'shufflenet-v2': ('shufflenet-v2-1x_16xb64_in1k', {}),
    'efficientnet-b0': ('efficientnet-b0_3rdparty_8xb32_in1k', {}),
    'densenet121': ('densenet121_3rdparty_in1k', {}),
    'convnext-tiny': ('convnext-tiny_32xb128_in1k', {}),
    'repvgg-a0': ('repvgg-a0_8xb32_in1k', {}),
    'mobileone-s0': ('mobileone-s0_8xb32_in1k', {}),
    # 224 / 16 = 14 x 14 patches at ImageNet size; 32 / 16 = 2 x 2 here
    'deit-tiny': ('deit-tiny_4xb256_in1k', {'img_size': INPUT_SIZE}),
}

#: the module whose output is the logits, by head type
_LOGITS = {'LinearClsHead': 'head.fc',
           'StackedLinearClsHead': 'head.layers.{last}.fc',
           'VisionTransformerClsHead': 'head.layers.head'}


@functools.lru_cache(maxsize=None)
def mmpretrain_config(name: str):
    """The full mmpretrain config (an mmengine Config) of zoo entry
    ``name`` (read once; do not change it)."""
    from mmpretrain.apis import ModelHub
    return ModelHub.get(ARCHITECTURES[name][0]).config


def model_config(name: str) -> dict:
    """The model config of zoo entry ``name``, for ``algorithm=dict(
    model=...)`` or a config's ``model``: mmpretrain's own, with a
    10-class head, no batch augmentations, the preprocessor of its
    training config, and built under ``default_scope='mmpretrain'``."""
    cfg = mmpretrain_config(name)
    model = copy.deepcopy(cfg.model.to_dict())
    model['backbone'].update(ARCHITECTURES[name][1])
    model['head']['num_classes'] = NUM_CLASSES
    model.pop('train_cfg', None)  # Mixup / CutMix augments
    preprocessor = cfg.data_preprocessor.to_dict()
    preprocessor.update(type='ClsDataPreprocessor', num_classes=NUM_CLASSES)
    preprocessor.pop('batch_augments', None)
    model['data_preprocessor'] = preprocessor
    return model


def logits_module(name: str) -> str:
    """The name of the module whose output is the logits (what a KD head
    supervises)."""
    head = model_config(name)['head']
    module = _LOGITS[head['type']]
    return module.format(last=len(head.get('mid_channels', ())))
