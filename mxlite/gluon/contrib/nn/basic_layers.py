"""The layers MXNet 2.x still offers under ``gluon.contrib.nn``.

``Concurrent`` / ``HybridConcurrent`` are MXNet's contrib names of ``nn.Concatenate`` /
``nn.HybridConcatenate``; the others are ``gluon.nn``'s own classes. ``SparseEmbedding`` is
not offered: it needs row-sparse storage, which mxlite does not have (``nn.Embedding`` with
dense gradients computes the same forward)."""
from ...nn import (Concatenate, HybridConcatenate, Identity, PixelShuffle1D, PixelShuffle2D,
                   PixelShuffle3D, SyncBatchNorm)

__all__ = ["Concurrent", "HybridConcurrent", "Identity", "SyncBatchNorm", "PixelShuffle1D",
           "PixelShuffle2D", "PixelShuffle3D"]


class Concurrent(Concatenate):
    """Feeds its input to every child and concatenates their outputs along ``axis``."""


class HybridConcurrent(HybridConcatenate):
    """Feeds its input to every child and concatenates their outputs along ``axis``; runs
    as one graph when hybridized."""
