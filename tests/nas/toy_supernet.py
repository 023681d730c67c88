"""A two-conv slice backbone that follows gml's supernet interface."""
import torch.nn as nn

from gml.models.ops import BatchNorm2dSlice, Conv2dSlice
from gml.registry import MODELS
from gml.space import build_search_space_recur, map_spaces, validate_tree


@MODELS.register_module(force=True)
class ToySliceBackbone(nn.Module):
    """conv(3->w0) -> BN -> ReLU -> conv(w0->w1, k) -> BN -> ReLU."""

    def __init__(self, search_space=None):
        super().__init__()
        search_space = search_space or dict(
            widths=[dict(type='Categorical', data=[4, 8]),
                    dict(type='Categorical', data=[8, 16])],
            kernel=dict(type='Categorical', data=[3, 5]))
        self.search_space = build_search_space_recur(
            search_space, key='backbone.search_space')
        self.conv1 = Conv2dSlice(3, 8, 3)
        self.bn1 = BatchNorm2dSlice(8)
        self.conv2 = Conv2dSlice(8, 16, 5)
        self.bn2 = BatchNorm2dSlice(16)
        self.relu = nn.ReLU()
        self.drop_path_ratio = 0.0  # built without drop-path
        self.drop_path_now = 0.0

    def set_subnet(self, config):
        validate_tree(self.search_space, config, 'backbone.search_space')
        self.conv1.set_active(out_channels=config['widths'][0])
        self.conv2.set_active(out_channels=config['widths'][1],
                              kernel_size=config['kernel'])
        self.active = config

    def max_subnet(self):
        return map_spaces(self.search_space, lambda s: s.max)

    def min_subnet(self):
        return map_spaces(self.search_space, lambda s: s.min)

    @property
    def feat_dim(self):
        return self.active['widths'][1]

    def set_drop_path(self, ratio):
        self.drop_path_now = ratio

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return (self.relu(self.bn2(self.conv2(x))), )
