"""Products (dot, matmul, tensordot, einsum, ...), diagonals and triangles, and the
differentiable part of numpy.linalg (re-exported as ``mx.np.linalg``)."""
import numpy as _np

from ..autograd import Op, apply
from . import to_nd, finish_out

__all__ = ["matmul", "dot", "tensordot", "vdot", "inner", "outer", "kron", "einsum", "trace",
           "diag", "diagonal", "tril", "triu"]
LINALG = ["inv", "det", "slogdet", "solve", "cholesky", "svd", "norm"]


class _Matmul:
    def forward(xp, a, b):
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:  # (..., k) @ (k, m): one GEMM
            return xp.reshape(xp.matmul(xp.reshape(a, (-1, a.shape[-1])), b),
                              a.shape[:-1] + b.shape[-1:])
        return xp.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if ctx.need[0]:
            b2 = b if b.ndim > 1 else xp.reshape(b, b.shape + (1,))
            ga = xp.matmul(g2, xp.swapaxes(b2, -1, -2))  # summed to a's shape by the engine
        if ctx.need[1] and a.ndim > 2 and b.ndim == 2:  # one GEMM, not one per batch entry
            gb = xp.matmul(xp.reshape(a, (-1, a.shape[-1])).T, xp.reshape(g, (-1, g.shape[-1])))
        elif ctx.need[1]:
            a2 = a if a.ndim > 1 else xp.reshape(a, (1,) + a.shape)
            gb = xp.matmul(xp.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = xp.reshape(gb, gb.shape[:-1])
        return ga, gb


_matmul = Op("matmul", _Matmul.forward, _Matmul.backward)


def _check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not accept 0-d arrays; use multiply")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({k_a} != {k_b} on the contracted axis)")


def matmul(a, b, out=None):
    a = to_nd(a)
    b = to_nd(b, a)
    _check_matmul(a, b)
    return finish_out(apply(_matmul, (a, b)), out)


class _Tensordot:
    def forward(xp, a, b, axes):
        return xp.tensordot(a, b, axes=axes)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        ax_a, ax_b = ctx.params["axes"]
        free_a = [i for i in range(a.ndim) if i not in ax_a]
        free_b = [i for i in range(b.ndim) if i not in ax_b]
        out_a = list(range(len(free_a)))
        out_b = list(range(len(free_a), len(free_a) + len(free_b)))
        ga = gb = None
        if ctx.need[0]:  # left-over axes of b come in b's order; map them to a's axes
            t = xp.tensordot(g, b, axes=(out_b, free_b))
            rest = [ax_a[ax_b.index(j)] for j in sorted(ax_b)]
            ga = xp.transpose(t, tuple(_np.argsort(free_a + rest)))
        if ctx.need[1]:
            t = xp.tensordot(a, g, axes=(free_a, out_a))
            rest = [ax_b[ax_a.index(i)] for i in sorted(ax_a)]
            gb = xp.transpose(t, tuple(_np.argsort(rest + free_b)))
        return ga, gb


_tensordot = Op("tensordot", _Tensordot.forward, _Tensordot.backward)


def tensordot(a, b, axes=2):
    a = to_nd(a)
    b = to_nd(b, a)
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b) or any(a.shape[i] != b.shape[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape mismatch for sum over axes {ax_a} of {a.shape} "
                         f"and {ax_b} of {b.shape}")
    return apply(_tensordot, (a, b), {"axes": (tuple(ax_a), tuple(ax_b))})


def dot(a, b, out=None):
    """numpy's dot: products for 0-d, matmul up to 2-D, sum-product over the last axis
    of ``a`` and the second-to-last of ``b`` otherwise."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim == 0 or b.ndim == 0:
        return finish_out(a * b, out)
    if b.ndim <= 2 or a.ndim == 1:
        _check_matmul(a, b)
        return finish_out(apply(_matmul, (a, b)), out)
    return finish_out(tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2])), out)


# -- more products --------------------------------------------------------------------------
def vdot(a, b):
    """Sum of the elementwise product of the flattened inputs (real arrays)."""
    from .shape import ravel
    from .reduce import sum as _sum
    a = to_nd(a)
    b = to_nd(b, a)
    if a.size != b.size:
        raise ValueError(f"vdot: inputs of sizes {a.size} and {b.size} differ")
    return _sum(ravel(a) * ravel(b))


def inner(a, b):
    """Sum-product over the last axes (a product when either is 0-d)."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def outer(a, b, out=None):
    from .shape import ravel, reshape
    a = to_nd(a)
    b = to_nd(b, a)
    return finish_out(reshape(ravel(a), (-1, 1)) * reshape(ravel(b), (1, -1)), out)


def kron(a, b):
    """Kronecker product: a broadcast product of interleaved axes, then one reshape."""
    from .shape import reshape
    a = to_nd(a)
    b = to_nd(b, a)
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    a2 = reshape(a, tuple(x for s in sa for x in (s, 1)))
    b2 = reshape(b, tuple(x for s in sb for x in (1, s)))
    return reshape(a2 * b2, tuple(x * y for x, y in zip(sa, sb)))


# -- einsum ---------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _explicit_einsum(subscripts, shapes):
    """Rewrite ``subscripts`` with letters only and an explicit output.

    Ellipses become unused letters (right-aligned, broadcasting as numpy); an implicit
    output is the ellipsis axes then the letters used once, in alphabetical order."""
    spec = subscripts.replace(" ", "")
    ins, out = spec.split("->") if "->" in spec else (spec, None)
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands but "
                         f"{len(shapes)} were given")
    free = iter(c for c in _LETTERS if c not in spec)
    n_ell = max([len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)
                 if "..." in t] + [0])
    ell = "".join(next(free) for _ in range(n_ell))
    explicit = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            n = len(s) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - n:] if n else "")
        if len(t) != len(s) or not t.isalpha() and t:
            raise ValueError(f"einsum: term {t!r} does not fit an operand of shape {s}")
        explicit.append(t)
    if out is None:
        letters = "".join(t.replace("...", "") for t in terms)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return explicit, out


class _EinsumHelper:
    """Constant identity matrices and ones vectors for einsum gradients (on ``like``'s
    device and dtype)."""
    def forward(xp, like, n, eye):
        return xp.eye(n, dtype=like.dtype) if eye else xp.ones(n, dtype=like.dtype)


_einsum_helper = Op("einsum_helper", _EinsumHelper.forward)


def _prod(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def _pair_as_matmul(xp, ta, tb, out, a, b):
    """A two-operand einsum as one (batched) matmul, or None when the pattern needs
    einsum itself (a repeated letter, or a size-1 letter broadcast against another)."""
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb):
        return None
    sizes = {}
    for term, x in ((ta, a), (tb, b)):
        for c, n in zip(term, x.shape):
            if sizes.setdefault(c, n) != n:
                return None
    summed_a = tuple(i for i, c in enumerate(ta) if c not in tb and c not in out)
    if summed_a:
        a = xp.sum(a, axis=summed_a)
        ta = "".join(c for i, c in enumerate(ta) if i not in summed_a)
    summed_b = tuple(i for i, c in enumerate(tb) if c not in ta and c not in out)
    if summed_b:
        b = xp.sum(b, axis=summed_b)
        tb = "".join(c for i, c in enumerate(tb) if i not in summed_b)
    batch = [c for c in out if c in ta and c in tb]
    left = [c for c in out if c in ta and c not in tb]
    right = [c for c in out if c in tb and c not in ta]
    inner = [c for c in ta if c in tb and c not in out]
    shape = lambda letters: _prod(sizes[c] for c in letters)  # noqa: E731
    a2 = xp.transpose(a, [ta.index(c) for c in batch + left + inner])
    b2 = xp.transpose(b, [tb.index(c) for c in batch + inner + right])
    if batch:  # numpy's stacked matmul is only fast on contiguous stacks
        a2 = xp.ascontiguousarray(a2).reshape(shape(batch), shape(left), shape(inner))
        b2 = xp.ascontiguousarray(b2).reshape(shape(batch), shape(inner), shape(right))
    else:
        a2 = a2.reshape(shape(left), shape(inner))
        b2 = b2.reshape(shape(inner), shape(right))
    res = xp.matmul(a2, b2).reshape([sizes[c] for c in batch + left + right])
    order = batch + left + right
    return xp.transpose(res, [order.index(c) for c in out])


class _Einsum:
    def forward(xp, *operands, terms, out):
        if len(operands) == 2:
            res = _pair_as_matmul(xp, terms[0], terms[1], out, *operands)
            if res is not None:
                return res
        spec = ",".join(terms) + "->" + out
        return xp.einsum(spec, *operands, optimize=len(operands) > 1)

    def backward(ctx, g):
        """The gradient of operand k is an einsum of ``g`` with the other operands. A letter
        repeated in operand k (a diagonal) is renamed and tied back with an identity
        matrix; a letter only operand k has (summed away) is broadcast with ones."""
        terms, out = ctx.params["terms"], ctx.params["out"]
        ops = ctx.inputs
        used = set("".join(terms) + out)
        grads = []
        for k, (term, need) in enumerate(zip(terms, ctx.need)):
            if not need:
                grads.append(None)
                continue
            free = iter(c for c in _LETTERS if c not in used)
            others = [t for j, t in enumerate(terms) if j != k]
            available = set(out).union(*others)
            parts, args = [out], [g]
            parts += others
            args += [o for j, o in enumerate(ops) if j != k]
            target, seen = "", set()
            for c, size in zip(term, ops[k].shape):
                if c in seen:
                    renamed = next(free)
                    parts.append(c + renamed)
                    args.append(ctx.call(_einsum_helper, g, n=size, eye=True))
                    target += renamed
                    continue
                seen.add(c)
                target += c
                if c not in available:
                    parts.append(c)
                    args.append(ctx.call(_einsum_helper, g, n=size, eye=False))
                    available.add(c)
            grads.append(ctx.call(_einsum, *args, terms=tuple(parts), out=target))
        return tuple(grads)


_einsum = Op("einsum", _Einsum.forward, _Einsum.backward)


def einsum(subscripts, *operands, out=None, optimize=True, **kwargs):
    """numpy's einsum (ellipsis, implicit output, repeated letters), differentiable in
    every operand. Contractions of several operands always go through numpy's
    ``optimize`` path (BLAS); the ``optimize`` argument is accepted for compatibility."""
    if kwargs:
        raise TypeError(f"einsum got unexpected arguments {sorted(kwargs)}")
    if not isinstance(subscripts, str):
        raise TypeError("einsum takes a subscripts string first (e.g. 'ij,jk->ik'); the "
                        "interleaved operand/index-list form is not supported")
    if not operands:
        raise ValueError("einsum needs at least one operand")
    like = next((o for o in operands if hasattr(o, "_device")), None)
    ops = tuple(to_nd(o, like) for o in operands)
    terms, out_term = _explicit_einsum(subscripts, [o.shape for o in ops])
    return finish_out(apply(_einsum, ops, {"terms": tuple(terms), "out": out_term}), out)


# -- diagonals and triangles -----------------------------------------------------------------
def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal as the last axis (numpy); a gather, so the gradient scatters back."""
    from .shape import moveaxis, getitem
    a = to_nd(a)
    if a.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dimensions, got shape {a.shape}")
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = a.shape[-2:]
    start_r, start_c = (0, offset) if offset >= 0 else (-offset, 0)
    n = max(0, min(rows - start_r, cols - start_c))
    xp = a._device.backend.xp
    idx = xp.arange(n)
    return getitem(a, (Ellipsis, idx + start_r, idx + start_c))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    from .reduce import sum as _sum
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def diag(v, k=0):
    """1-D input: a matrix with ``v`` on diagonal ``k``; 2-D input: that diagonal."""
    from .shape import _scatter_add
    v = to_nd(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag needs a 1-D or 2-D input, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    xp = v._device.backend.xp
    idx = xp.arange(v.shape[0])
    key = (idx, idx + k) if k >= 0 else (idx - k, idx)
    return apply(_scatter_add, (v,), {"key": key, "shape": (n, n)})


def _triangle(m, k, lower):
    from .elemwise import where
    m = to_nd(m)
    if m.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'} needs at least 2 dimensions, got "
                         f"shape {m.shape}")
    rows, cols = m.shape[-2:]
    mask = _np.tri(rows, cols, k if lower else k - 1, dtype=bool)
    if not lower:
        mask = ~mask
    from ..ndarray import wrap
    return where(wrap(m._device.backend.asarray(mask), m._device), m, 0)


def tril(m, k=0):
    return _triangle(m, k, True)


def triu(m, k=0):
    return _triangle(m, k, False)


# -- numpy.linalg ----------------------------------------------------------------------------
def _mT(xp, a):
    return xp.swapaxes(a, -1, -2)


class _Inv:
    def forward(xp, a):
        return xp.linalg.inv(a)

    def backward(ctx, g):
        y = ctx.out
        xp = ctx.xp
        yt = _mT(xp, y)
        return (-xp.matmul(xp.matmul(yt, g), yt),)


class _Det:
    def forward(xp, a):
        return xp.linalg.det(a)

    def backward(ctx, g):
        a = ctx.inputs[0]
        xp = ctx.xp
        scale = xp.expand_dims(xp.expand_dims(g * ctx.out, -1), -1)
        return (scale * _mT(xp, xp.linalg.inv(a)),)


class _Slogdet:
    def forward(xp, a):
        sign, logabs = xp.linalg.slogdet(a)
        return sign, logabs

    def backward(ctx, g):
        g_log = g[1]
        if g_log is None:
            return (None,)
        xp = ctx.xp
        scale = xp.expand_dims(xp.expand_dims(g_log, -1), -1)
        return (scale * _mT(xp, xp.linalg.inv(ctx.inputs[0])),)


class _Solve:
    """``a x = b`` with ``b`` a (stack of) matrices; vectors are handled by the wrapper."""
    def forward(xp, a, b):
        return xp.linalg.solve(a, b)

    def backward(ctx, g):
        a, b = ctx.inputs
        xp = ctx.xp
        gb = xp.linalg.solve(_mT(xp, a), g)
        ga = -xp.matmul(gb, _mT(xp, ctx.out)) if ctx.need[0] else None
        return ga, gb


class _Cholesky:
    """Gradient: the symmetric one (as PyTorch and JAX), from ``L^-T Phi(L^T gL) L^-1``."""
    def forward(xp, a):
        return xp.linalg.cholesky(a)

    def backward(ctx, g):
        xp = ctx.xp
        low = ctx.out
        n = low.shape[-1]
        phi = xp.tril(xp.matmul(_mT(xp, low), g))
        half_diag = ctx.call(_einsum_helper, g, n=n, eye=True) * 0.5
        phi = phi - phi * half_diag
        low_inv = xp.linalg.inv(low)
        s = xp.matmul(xp.matmul(_mT(xp, low_inv), phi), low_inv)
        return ((s + _mT(xp, s)) * 0.5,)


class _Svd:
    """Reduced SVD; differentiable through the singular values only."""
    def forward(xp, a):
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        return u, s, vh

    def backward(ctx, g):
        gu, gs, gvh = g
        if gu is not None or gvh is not None:
            raise NotImplementedError(
                "svd: gradients through the singular vectors are not supported; "
                "differentiate through the singular values (np.linalg.svd(a)[1] or "
                "np.linalg.norm(a, 'nuc'))")
        u, s, vh = ctx.call(_svd, ctx.inputs[0])
        xp = ctx.xp
        return (xp.matmul(u * xp.expand_dims(gs, -2), vh),)


class _Norm2:
    """Euclidean norm over ``axis``; at 0 the gradient is 0 (a subgradient), not NaN."""
    def forward(xp, x, axis=None, keepdims=False):
        return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))

    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        kshape = _keep_shape(x.shape, ctx.params.get("axis"))
        out = xp.reshape(ctx.out, kshape)
        return (xp.reshape(g, kshape) * x / xp.where(out == 0, 1, out),)


_inv = Op("inv", _Inv.forward, _Inv.backward, save_out=True)
_det = Op("det", _Det.forward, _Det.backward, save_out=True)
_slogdet = Op("slogdet", _Slogdet.forward, _Slogdet.backward, nout=2)
_solve = Op("solve", _Solve.forward, _Solve.backward, save_out=True)
_cholesky = Op("cholesky", _Cholesky.forward, _Cholesky.backward, save_out=True)
_svd = Op("svd", _Svd.forward, _Svd.backward, nout=3)
_norm2 = Op("norm2", _Norm2.forward, _Norm2.backward, save_out=True)


def _keep_shape(shape, axis):
    from . import keep_shape
    return keep_shape(shape, axis)


def _square(a, name):
    a = to_nd(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"linalg.{name} needs (..., M, M) square matrices, got shape "
                         f"{a.shape}")
    if a.dtype.kind not in "fc":
        a = a.astype("float32")
    return a


def inv(a):
    return apply(_inv, (_square(a, "inv"),))


def det(a):
    return apply(_det, (_square(a, "det"),))


def slogdet(a):
    """(sign, log|det|); differentiable through log|det|."""
    return apply(_slogdet, (_square(a, "slogdet"),))


def solve(a, b):
    """numpy 2 rules: a 1-D ``b`` is one vector, otherwise ``b`` is (..., M, K)."""
    a = _square(a, "solve")
    b = to_nd(b, a)
    if b.ndim == 1:
        from .shape import reshape
        if b.shape[0] != a.shape[-1]:
            raise ValueError(f"linalg.solve: b of shape {b.shape} does not fit a of shape "
                             f"{a.shape}")
        return reshape(apply(_solve, (a, reshape(b, (-1, 1)))), a.shape[:-1])
    if b.shape[-2] != a.shape[-1]:
        raise ValueError(f"linalg.solve: b of shape {b.shape} does not fit a of shape "
                         f"{a.shape}; b must be (..., {a.shape[-1]}, K) or ({a.shape[-1]},)")
    return apply(_solve, (a, b))


def cholesky(a):
    """Lower factor ``L`` with ``a = L L^T`` (the lower triangle of ``a`` is read)."""
    return apply(_cholesky, (_square(a, "cholesky"),))


def svd(a, full_matrices=False, compute_uv=True, hermitian=False):
    """Reduced SVD ``(u, s, vh)`` (``full_matrices=True`` is not supported);
    differentiable through ``s``."""
    a = to_nd(a)
    if a.ndim < 2:
        raise ValueError(f"linalg.svd needs (..., M, N) matrices, got shape {a.shape}")
    if full_matrices:
        raise NotImplementedError("linalg.svd(full_matrices=True) is not supported; "
                                  "pass full_matrices=False")
    u, s, vh = apply(_svd, (a,))
    return (u, s, vh) if compute_uv else s


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - numpy's name
    """numpy.linalg.norm: vector ord None/2/1/inf/-inf/0/p, matrix ord None/'fro'/'nuc'/
    1/-1/2/-2/inf/-inf; differentiable (subgradient 0 at kinks such as a zero vector)."""
    from . import as_axes
    from .elemwise import abs as _abs, power
    from .reduce import sum as _sum, max as _max, min as _min, count_nonzero
    from .shape import reshape, moveaxis
    x = to_nd(x)
    if x.dtype.kind not in "fc":
        x = x.astype("float32")
    if axis is None and (ord is None or (ord == "fro" and x.ndim == 2)):
        return apply(_norm2, (x,), {"axis": None, "keepdims": bool(keepdims)})
    if axis is None:
        if x.ndim not in (1, 2):
            raise ValueError(f"norm with ord={ord!r} needs axis= for a {x.ndim}-d input")
        axis = tuple(range(x.ndim))
    axes = as_axes(axis, x.ndim) if not isinstance(axis, (tuple, list)) else \
        tuple(a % x.ndim for a in axis)
    kshape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    shape = kshape if keepdims else tuple(s for i, s in enumerate(x.shape) if i not in axes)
    if len(axes) == 1:
        ax = axes[0]
        if ord is None or ord == 2:
            return apply(_norm2, (x,), {"axis": ax, "keepdims": bool(keepdims)})
        if ord == 1:
            return _sum(_abs(x), axis=ax, keepdims=keepdims)
        if ord == _np.inf:
            return _max(_abs(x), axis=ax, keepdims=keepdims)
        if ord == -_np.inf:
            return _min(_abs(x), axis=ax, keepdims=keepdims)
        if ord == 0:
            return count_nonzero(x, axis=ax, keepdims=keepdims).astype(x.dtype)
        if isinstance(ord, str):
            raise ValueError(f"norm: ord={ord!r} is a matrix norm; give a 2-tuple axis")
        return power(_sum(power(_abs(x), ord), axis=ax, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2:
        raise ValueError(f"norm: axis must name 1 or 2 axes, got {axis}")
    row, col = axes
    if ord in (None, "fro"):
        return apply(_norm2, (x,), {"axis": (row, col), "keepdims": bool(keepdims)})
    if ord in (1, -1, _np.inf, -_np.inf):
        summed, pick = (row, col) if ord in (1, -1) else (col, row)
        sums = _sum(_abs(x), axis=summed, keepdims=True)
        res = (_max if ord > 0 else _min)(sums, axis=pick, keepdims=True)
        return reshape(res, shape)
    if ord in ("nuc", 2, -2):
        s = svd(moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        res = _sum(s, axis=-1) if ord == "nuc" else \
            (_max if ord == 2 else _min)(s, axis=-1)
        return reshape(res, shape)
    raise ValueError(f"norm: invalid ord {ord!r} for a matrix norm")
