"""MESS (Memory Efficient Storing Scheme): inter-layer kernel sharing.

Every kernel of a conv is stored as ``alpha * r_k + beta`` against the
kernels ``r`` of a reference conv: an index k and two coefficients instead
of nine weights. :func:`project` rewrites a model in that form,
:func:`write_mess` / :func:`read_mess` store and rebuild it, and
``gml.MESSHook`` retrains with re-projection. See docs/mess.md.
"""
from .bitpack import index_bits, pack, packed_size, unpack
from .file_format import kernel_sizes, read_mess, write_mess
from .fit import KernelFit, reconstruct, refit, search
from .kernels import Family, conv_kind, find_families
from .options import VERSIONS, MESSOptions
from .projection import Projection, kernel_bits, project
from .quantize import Quantized, fake_quantize, quantize

__all__ = ['index_bits', 'pack', 'packed_size', 'unpack', 'kernel_sizes',
           'read_mess', 'write_mess', 'KernelFit', 'reconstruct', 'refit',
           'search', 'Family', 'conv_kind', 'find_families', 'VERSIONS',
           'MESSOptions', 'Projection', 'kernel_bits', 'project',
           'Quantized', 'fake_quantize', 'quantize']
