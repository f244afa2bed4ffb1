"""Philox 4x32-10 in numpy: the same stream kernels/dropout.cu draws, so CPU code and tests can
rebuild a GPU dropout mask bit for bit from (seed, offset).

Element i of a tensor takes word i % 4 of philox4x32_10(counter, key) with
counter = (lo32(i // 4), hi32(i // 4), lo32(offset), hi32(offset)) and key = (lo32(seed), hi32(seed)).
"""
import numpy

_M0, _M1 = numpy.uint64(0xD2511F53), numpy.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LOW32 = numpy.uint64(0xFFFFFFFF)
_SHIFT32 = numpy.uint64(32)


def philox4x32_10(counter, key):
    """Philox 4x32 with 10 rounds. counter: (..., 4) uint32 words; key: two uint32 words.

    Returns the (..., 4) uint32 output block for every counter.
    """
    c = numpy.asarray(counter, dtype=numpy.uint32).astype(numpy.uint64)
    c0, c1, c2, c3 = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    k0, k1 = int(key[0]) & 0xFFFFFFFF, int(key[1]) & 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = _M0 * c0, _M1 * c2  # exact: both factors are below 2**32
        hi0, lo0 = p0 >> _SHIFT32, p0 & _LOW32
        hi1, lo1 = p1 >> _SHIFT32, p1 & _LOW32
        c0, c1, c2, c3 = hi1 ^ c1 ^ numpy.uint64(k0), lo1, hi0 ^ c3 ^ numpy.uint64(k1), lo0
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return numpy.stack([c0, c1, c2, c3], axis=-1).astype(numpy.uint32)


def random_words(n, seed, offset):
    """The n uint32 words the dropout kernel draws for elements 0..n-1 under (seed, offset)."""
    groups = numpy.arange((n + 3) // 4, dtype=numpy.uint64)
    counter = numpy.empty(groups.shape + (4,), dtype=numpy.uint64)
    counter[:, 0] = groups & _LOW32
    counter[:, 1] = groups >> _SHIFT32
    counter[:, 2] = offset & 0xFFFFFFFF
    counter[:, 3] = (offset >> 32) & 0xFFFFFFFF
    seed = int(seed)
    return philox4x32_10(counter, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]


def keep_threshold(p):
    """The uint32 threshold: an element is kept when its word >= floor(p * 2**32)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    return numpy.uint32(min(int(p * 2.0**32), 2**32 - 1))


def dropout_mask(shape, p, seed, offset):
    """Boolean keep-mask of `shape` that kernels/dropout.cu uses for (p, seed, offset)."""
    n = int(numpy.prod(shape, dtype=numpy.int64))
    return (random_words(n, seed, offset) >= keep_threshold(p)).reshape(shape)
