"""Channel pruning building blocks: channel units, Markov width groups,
the FLOPs loss and shrinking a model to chosen widths."""
from .channel_graph import (ChannelGraph, ChannelUnit, CostTerm,
                            trace_channel_graph)
from .markov import ChannelGroups, WidthGrid
from .shrink import build_pruned_model, module_sizes, shrink_

__all__ = ['ChannelGraph', 'ChannelUnit', 'CostTerm', 'trace_channel_graph',
           'ChannelGroups', 'WidthGrid', 'build_pruned_model', 'module_sizes',
           'shrink_']
