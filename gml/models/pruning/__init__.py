"""Channel pruning building blocks: tracing which channels go together,
channel units, Markov width groups, masks and cutting a model to a
subnet."""
from .channel_graph import ChannelGraph, ChannelUnit, trace_channel_graph
from .channel_trace import ChannelTrace, trace_channels
from .markov import ChannelGroups, WidthGrid
from .shrink import build_pruned_model, prune_, reshape_

__all__ = ['ChannelGraph', 'ChannelUnit', 'ChannelTrace',
           'trace_channel_graph', 'trace_channels', 'ChannelGroups',
           'WidthGrid', 'build_pruned_model', 'prune_', 'reshape_']
