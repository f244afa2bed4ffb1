"""Products (dot, matmul, tensordot, einsum) and numpy.linalg (re-exported as
``mx.np.linalg``; ``norm``, ``vector_norm``, ``matrix_norm``, ``tensorinv`` and
``tensorsolve`` are in ``ops.composite``). Differentiable: inv, det, slogdet, solve,
cholesky, svd, qr, pinv, eigh, eigvalsh; forward only (as MXNet): eig, eigvals, lstsq,
matrix_rank."""
import numpy as _np

from ..autograd import apply, defop
from . import (ShapeError, finish_out, keep_shape, matmul_transposed,
               same_dtype_matmul as _same_dtype_matmul, to_nd)
from .shape import concatenate, reshape, swapaxes

__all__ = ["matmul", "dot", "tensordot", "einsum", "cross"]


@defop("matmul")
class _matmul:
    def forward(xp, a, b):
        if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous:  # (..., k) @ (k, m): one GEMM
            return xp.reshape(_same_dtype_matmul(xp, xp.reshape(a, (-1, a.shape[-1])), b),
                              a.shape[:-1] + b.shape[-1:])
        return _same_dtype_matmul(xp, a, b)

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
        if ctx.need[0] and a.ndim > 2 and b.ndim == 2:  # one GEMM: 0.6x the batched time
            ga = xp.reshape(matmul_transposed(xp, xp.reshape(g, (-1, g.shape[-1])), b),
                            a.shape)
        elif ctx.need[0]:
            b2 = b if b.ndim > 1 else xp.reshape(b, b.shape + (1,))
            ga = matmul_transposed(xp, g2, b2)  # summed to a's shape by the engine
        if ctx.need[1] and a.ndim >= 2 and b.ndim == 2:  # one GEMM, not one per batch entry
            gb = ctx.transposed_product(_same_dtype_matmul, xp.reshape(a, (-1, a.shape[-1])),
                                        xp.reshape(g, (-1, g.shape[-1])))
        elif ctx.need[1]:
            a2 = a if a.ndim > 1 else xp.reshape(a, (1,) + a.shape)
            gb = _same_dtype_matmul(xp, xp.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                gb = xp.reshape(gb, gb.shape[:-1])
        return ga, gb


def _check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul does not accept 0-d arrays (got shapes {a.shape} and "
                         f"{b.shape}); use multiply")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({k_a} != {k_b} on the contracted axis)")
    if a.ndim <= 2 and b.ndim <= 2:
        return  # no batch dimensions (numpy's broadcast_shapes costs 2 us a call)
    try:
        _np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} "
                         f"do not broadcast") from None


def matmul(a, b, out=None):
    a = to_nd(a)
    b = to_nd(b, a)
    _check_matmul(a, b)
    return finish_out(apply(_matmul, (a, b)), out)


@defop("tensordot")
class _tensordot:
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
        raise ShapeError(f"tensordot: shape mismatch for sum over axes {ax_a} of {a.shape} "
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
        given = set("".join(explicit))
        stray = sorted(c for c in set(out) if c not in given)
        if stray or not out.isalpha() and out or len(set(out)) != len(out):
            raise ValueError(f"einsum: output {out!r} of {subscripts!r} must name each of the "
                             f"input letters {''.join(sorted(given))!r} at most once"
                             + (f"; {', '.join(map(repr, stray))} appears in no input"
                                if stray else ""))
    return explicit, out


@defop("einsum_helper")
class _einsum_helper:
    """Constant identity matrices and ones vectors for einsum gradients (on ``like``'s
    device and dtype)."""
    def forward(xp, like, n, eye):
        return xp.eye(n, dtype=like.dtype) if eye else xp.ones(n, dtype=like.dtype)


def _prod(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def _pair_as_same_dtype_matmul(xp, ta, tb, out, a, b):
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


@defop("einsum")
class _einsum:
    def forward(xp, *operands, terms, out):
        if len(operands) == 2:
            res = _pair_as_same_dtype_matmul(xp, terms[0], terms[1], out, *operands)
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


# -- numpy.linalg ----------------------------------------------------------------------------
def _mT(xp, a):
    return xp.swapaxes(a, -1, -2)


def _scaled_inv_t(xp, a, scale):
    """``scale`` (one per matrix) times ``inv(a)^T``, the gradient of log|det a|."""
    return xp.expand_dims(xp.expand_dims(scale, -1), -1) * _mT(xp, xp.linalg.inv(a))


@defop("inv", save_out=True)
class _inv:
    def forward(xp, a):
        return xp.linalg.inv(a)

    def backward(ctx, g):
        yt = _mT(ctx.xp, ctx.out)
        return (-ctx.xp.matmul(ctx.xp.matmul(yt, g), yt),)


@defop("det", save_out=True)
class _det:
    def forward(xp, a):
        return xp.linalg.det(a)

    def backward(ctx, g):
        return (_scaled_inv_t(ctx.xp, ctx.inputs[0], g * ctx.out),)


@defop("slogdet", nout=2)
class _slogdet:
    def forward(xp, a):
        sign, logabs = xp.linalg.slogdet(a)
        return sign, logabs

    def backward(ctx, g):
        g_log = g[1]
        return (None if g_log is None else _scaled_inv_t(ctx.xp, ctx.inputs[0], g_log),)


@defop("solve", save_out=True)
class _solve:
    """``a x = b`` with ``b`` a (stack of) matrices; vectors are handled by the wrapper."""
    def forward(xp, a, b):
        return xp.linalg.solve(a, b)

    def backward(ctx, g):
        a = ctx.inputs[0]
        xp = ctx.xp
        gb = xp.linalg.solve(_mT(xp, a), g)
        ga = -xp.matmul(gb, _mT(xp, ctx.out)) if ctx.need[0] else None
        return ga, gb


@defop("cholesky", save_out=True)
class _cholesky:
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


@defop("svd", nout=3)
class _svd:
    """Reduced SVD, differentiable through ``s`` and the singular vectors (real case, as
    MXNet); the vectors' gradient is undefined where singular values repeat."""
    def forward(xp, a):
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        return u, s, vh

    def backward(ctx, g):
        gu, gs, gvh = g
        u, s, vh = ctx.call(_svd, ctx.inputs[0])
        xp = ctx.xp
        inner = xp.zeros(s.shape[:-1] + (s.shape[-1], s.shape[-1]), dtype=s.dtype) \
            if gs is None else gs[..., :, None] * xp.eye(s.shape[-1], dtype=s.dtype)
        if gu is None and gvh is None:
            return (xp.matmul(u * xp.expand_dims(gs, -2), vh),)
        v = _mT(xp, vh)
        s2 = s * s
        diff = s2[..., None, :] - s2[..., :, None]  # s_j^2 - s_i^2
        off = ~xp.eye(s.shape[-1], dtype=bool)
        f = xp.where(off, 1 / xp.where(off, diff, 1), 0)
        extra = 0
        if gu is not None:
            j = xp.matmul(_mT(xp, u), gu)
            inner = inner + (f * (j - _mT(xp, j))) * s[..., None, :]
            proj = gu - xp.matmul(u, j)  # (I - U U^T) gU
            extra = extra + xp.matmul(proj / s[..., None, :], vh)
        if gvh is not None:
            gv = _mT(xp, gvh)
            k = xp.matmul(vh, gv)
            inner = inner + s[..., :, None] * (f * (k - _mT(xp, k)))
            proj = gv - xp.matmul(v, k)  # (I - V V^T) gV
            extra = extra + xp.matmul(u / s[..., None, :], _mT(xp, proj))
        return (xp.matmul(xp.matmul(u, inner), vh) + extra,)


@defop("cross")
class _cross:
    """Cross product of 2- or 3-vectors along ``axisa``/``axisb`` (numpy's rules): the
    backward pads 2-vectors with a zero z and uses d(a x b) = da x b + a x db."""
    def forward(xp, a, b, axisa, axisb, axisc):
        a, b = xp.moveaxis(a, axisa, -1), xp.moveaxis(b, axisb, -1)
        if a.shape[-1] == 3 and b.shape[-1] == 3:
            return xp.cross(a, b, axisc=axisc)
        c = xp.cross(_as_3vectors(xp, a), _as_3vectors(xp, b))  # numpy 2 deprecates 2-vectors
        return c[..., 2] if a.shape[-1] == b.shape[-1] == 2 else xp.moveaxis(c, -1, axisc)

    def backward(ctx, g):
        a, b = ctx.inputs
        p = ctx.params
        xp = ctx.xp
        a3, b3 = (_as_3vectors(xp, xp.moveaxis(v, ax, -1)) for v, ax in
                  ((a, p["axisa"]), (b, p["axisb"])))
        if a.shape[p["axisa"]] == 2 and b.shape[p["axisb"]] == 2:  # the result is the z part
            g3 = xp.stack([xp.zeros_like(g), xp.zeros_like(g), g], axis=-1)
        else:
            g3 = xp.moveaxis(g, p["axisc"], -1)
        ga = gb = None
        if ctx.need[0]:
            ga = xp.moveaxis(xp.cross(b3, g3)[..., :a.shape[p["axisa"]]], -1,
                             p["axisa"] % a.ndim - a.ndim)
        if ctx.need[1]:
            gb = xp.moveaxis(xp.cross(g3, a3)[..., :b.shape[p["axisb"]]], -1,
                             p["axisb"] % b.ndim - b.ndim)
        return ga, gb


def _as_3vectors(xp, v):
    if v.shape[-1] == 3:
        return v
    return xp.concatenate([v, xp.zeros_like(v[..., :1])], axis=-1)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """numpy's cross of 2- or 3-element vectors (broadcasting); differentiable in both."""
    a = to_nd(a)
    b = to_nd(b, a)
    if axis is not None:
        axisa = axisb = axisc = axis
    for name, v, ax in (("a", a, axisa), ("b", b, axisb)):
        if v.ndim == 0 or not -v.ndim <= ax < v.ndim or v.shape[ax] not in (2, 3):
            raise ValueError(f"cross: {name} of shape {v.shape} needs 2 or 3 elements along "
                             f"axis{name[-1]}={ax}")
    return apply(_cross, (a, b), {"axisa": axisa, "axisb": axisb, "axisc": axisc})


@defop("norm2", save_out=True)
class _norm2:
    """Euclidean norm over ``axis``; at 0 the gradient is 0 (a subgradient), not NaN."""
    def forward(xp, x, axis=None, keepdims=False):
        return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))

    def backward(ctx, g):
        x = ctx.inputs[0]
        xp = ctx.xp
        kshape = keep_shape(x.shape, ctx.params.get("axis"))
        out = xp.reshape(ctx.out, kshape)
        return (xp.reshape(g, kshape) * x / xp.where(out == 0, 1, out),)


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
    """``b`` is a stack of vectors when its shape is ``a.shape[:-1]`` (MXNet's rule, NumPy
    1.x's: (3, 5, 5) with (3, 5) solves three vectors; NumPy 2 reads a (3, 5) ``b`` as one
    matrix for every ``a``), else (..., M, K) matrices broadcast against ``a``."""
    a = _square(a, "solve")
    b = to_nd(b, a)
    if b.shape == a.shape[:-1] or b.ndim == 1:
        if b.shape[-1] != a.shape[-1]:
            raise ValueError(f"linalg.solve: b of shape {b.shape} does not fit a of shape "
                             f"{a.shape}")
        x = apply(_solve, (a, reshape(b, b.shape + (1,))))
        return reshape(x, x.shape[:-1])
    if b.shape[-2] != a.shape[-1]:
        raise ValueError(f"linalg.solve: b of shape {b.shape} does not fit a of shape "
                         f"{a.shape}; b must be (..., {a.shape[-1]}, K) or ({a.shape[-1]},)")
    return apply(_solve, (a, b))


def cholesky(a, upper=False):
    """Lower factor ``L`` with ``a = L L^T`` (the lower triangle of ``a`` is read); with
    ``upper=True`` (MXNet) the upper factor ``L^T``."""
    low = apply(_cholesky, (_square(a, "cholesky"),))
    return swapaxes(low, -1, -2) if upper else low


@defop("svd_complement", nout=2)
class _svd_complement:
    """The columns that complete ``u`` and the rows that complete ``vh`` to square
    orthogonal matrices (a full SVD's extra vectors). They are any orthonormal basis of the
    complement, not functions of ``a``, so no gradient flows through them."""
    def forward(xp, a):
        u, _, vh = xp.linalg.svd(a, full_matrices=True)
        k = min(a.shape[-2:])
        return xp.ascontiguousarray(u[..., :, k:]), xp.ascontiguousarray(vh[..., k:, :])

    backward = None


def svd(a, full_matrices=False, compute_uv=True, hermitian=False):
    """SVD ``(u, s, vh)``, reduced by default. ``full_matrices=True`` completes ``u`` and
    ``vh`` to square orthogonal matrices; the gradient flows through the reduced part (the
    completing vectors are not unique)."""
    a = to_nd(a)
    if a.ndim < 2:
        raise ValueError(f"linalg.svd needs (..., M, N) matrices, got shape {a.shape}")
    u, s, vh = apply(_svd, (a,))
    if not compute_uv:
        return s
    if full_matrices and a.shape[-2] != a.shape[-1]:
        from_u, from_vh = apply(_svd_complement, (a,))
        u = concatenate([u, from_u], axis=-1)
        vh = concatenate([vh, from_vh], axis=-2)
    return u, s, vh


def _host_fallback(xp, name, *arrays, **kwargs):
    """``xp.linalg.<name>`` or, where the array module lacks it (CuPy's eig/eigvals), numpy's
    on host copies, the results moved back."""
    fn = getattr(xp.linalg, name, None)
    if fn is not None:
        return fn(*arrays, **kwargs)
    res = getattr(_np.linalg, name)(*(a.get() for a in arrays), **kwargs)
    return tuple(xp.asarray(r) for r in res) if isinstance(res, tuple) else xp.asarray(res)


def _copyltu(xp, m):
    """The symmetric matrix with ``m``'s lower triangle (diagonal included)."""
    return xp.tril(m) + _mT(xp, xp.tril(m, -1))


def _qr_tall_grad(xp, q, r, gq, gr):
    """``gA`` for ``A = Q R`` with ``R`` square: ``(gQ + Q copyltu(M)) R^-T``, where
    ``M = R gR^T - gQ^T Q``."""
    m = xp.matmul(r, _mT(xp, gr)) - xp.matmul(_mT(xp, gq), q)
    b = gq + xp.matmul(q, _copyltu(xp, m))
    return _mT(xp, xp.linalg.solve(r, _mT(xp, b)))  # b R^-T, with R upper triangular


@defop("qr", nout=2, save_out=True)
class _qr:
    """Reduced QR (numpy's signs). Gradient: the standard one for ``M >= N``; a wide matrix
    ``[X | Y]`` with ``X`` square takes it for ``X`` (``gQ + Y gV^T`` as ``gQ``) and
    ``Q gV`` for ``Y``. Defined where the first ``min(M, N)`` columns are independent."""
    def forward(xp, a):
        q, r = xp.linalg.qr(a, mode="reduced")
        return q, r

    def backward(ctx, g):
        xp = ctx.xp
        a = ctx.inputs[0]
        q, r = ctx.out
        gq, gr = g
        if a.size == 0:
            return (xp.zeros_like(a),)
        gq = xp.zeros_like(q) if gq is None else gq
        gr = xp.zeros_like(r) if gr is None else gr
        m, n = a.shape[-2:]
        if m >= n:
            return (_qr_tall_grad(xp, q, r, gq, gr),)
        y = a[..., :, m:]
        gv = gr[..., :, m:]
        gx = _qr_tall_grad(xp, q, r[..., :, :m], gq + xp.matmul(y, _mT(xp, gv)), gr[..., :, :m])
        return (xp.concatenate([gx, xp.matmul(q, gv)], axis=-1),)


@defop("pinv", save_out=True)
class _pinv:
    """Moore-Penrose inverse from the SVD, singular values at most ``rcond * max(s)``
    dropped (``rcond`` broadcasts against the stack, as numpy). Gradient: that of a
    constant-rank pseudo-inverse, ``-P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)``
    with ``P = pinv(A)``."""
    def forward(xp, a, rcond):
        m, n = a.shape[-2:]
        if a.size == 0:
            return xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        cutoff = xp.expand_dims(xp.asarray(rcond, dtype=s.dtype), -1) * \
            xp.max(s, axis=-1, keepdims=True)
        large = s > cutoff
        s_inv = xp.where(large, 1 / xp.where(large, s, 1), 0).astype(a.dtype)
        return xp.matmul(_mT(xp, vh) * xp.expand_dims(s_inv, -2), _mT(xp, u))

    def backward(ctx, g):
        xp = ctx.xp
        a = ctx.inputs[0]
        p = ctx.out
        pt, gt = _mT(xp, p), _mT(xp, g)
        ga = -xp.matmul(xp.matmul(pt, g), pt)
        t = xp.matmul(gt, xp.matmul(p, pt))  # g^T P P^T, then (I - A P) times it
        ga = ga + t - xp.matmul(a, xp.matmul(p, t))
        t = xp.matmul(xp.matmul(pt, p), gt)  # P^T P g^T, then times (I - P A)
        ga = ga + t - xp.matmul(xp.matmul(t, p), a)
        return ga, None


def _uplo(upper, UPLO):  # noqa: N803 - numpy's name
    if UPLO is not None:
        return UPLO.upper()
    if isinstance(upper, str):  # numpy's positional UPLO
        return upper.upper()
    return "U" if upper else "L"


def _eigh_grad(xp, w, v, gw, gv):
    """Symmetric gradient of ``A = V diag(w) V^T``: ``V (diag(gw) + F * (V^T gV)) V^T``
    symmetrized, ``F_ij = 1 / (w_j - w_i)`` off the diagonal (undefined where eigenvalues
    repeat, as for any eigenvector gradient)."""
    n = w.shape[-1]
    eye = xp.eye(n, dtype=w.dtype)
    inner = 0
    if gw is not None:
        inner = xp.expand_dims(gw, -2) * eye
    if gv is not None:
        diff = xp.expand_dims(w, -2) - xp.expand_dims(w, -1)  # w_j - w_i
        off = eye == 0
        f = xp.where(off, 1 / xp.where(off, diff, 1), 0)
        inner = inner + f * xp.matmul(_mT(xp, v), gv)
    ga = xp.matmul(xp.matmul(v, inner), _mT(xp, v))
    return (ga + _mT(xp, ga)) * 0.5


@defop("eigh", nout=2, save_out=True)
class _eigh:
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, from the ``uplo``
    triangle. Gradient: the symmetric one (as for cholesky)."""
    def forward(xp, a, uplo):
        w, v = xp.linalg.eigh(a, UPLO=uplo)
        return w, v

    def backward(ctx, g):
        if ctx.inputs[0].size == 0:
            return (ctx.xp.zeros_like(ctx.inputs[0]),)
        w, v = ctx.out
        return (_eigh_grad(ctx.xp, w, v, g[0], g[1]),)


@defop("eigvalsh")
class _eigvalsh:
    """Eigenvalues (ascending) of symmetric matrices; gradient ``V diag(g) V^T``."""
    def forward(xp, a, uplo):
        return xp.linalg.eigvalsh(a, UPLO=uplo)

    def backward(ctx, g):
        a = ctx.inputs[0]
        if a.size == 0:
            return (ctx.xp.zeros_like(a),)
        w, v = ctx.call(_eigh, a, uplo=ctx.params["uplo"])
        return (_eigh_grad(ctx.xp, w, v, g, None),)


@defop("eig", nout=2)
class _eig:
    """Eigenvalues and right eigenvectors of general matrices (real when all eigenvalues
    are, as numpy); not differentiable (as MXNet)."""
    def forward(xp, a):
        w, v = _host_fallback(xp, "eig", a)
        return w, v


@defop("eigvals")
class _eigvals:
    def forward(xp, a):
        return _host_fallback(xp, "eigvals", a)


@defop("lstsq", nout=4)
class _lstsq:
    """numpy's least squares ``(x, residuals, rank, s)``; not differentiable (as MXNet)."""
    def forward(xp, a, b, rcond):
        x, res, rank, s = xp.linalg.lstsq(a, b, rcond=rcond)
        return x, res, xp.asarray(rank, dtype=_np.int64), s


@defop("matrix_rank")
class _matrix_rank:
    """Number of singular values above ``tol`` (default ``max(s) * max(M, N) * eps``;
    ``tol`` broadcasts against the stack, as numpy); a vector's rank is 0 or 1."""
    def forward(xp, a, tol, rtol, hermitian):
        if a.ndim < 2:
            return xp.asarray(0 if a.size == 0 or not xp.any(a != 0) else 1, dtype=_np.int64)
        if hermitian:
            s = xp.abs(xp.linalg.eigvalsh(a))
        else:
            s = xp.linalg.svd(a, compute_uv=False)
        if tol is None:
            if rtol is None:
                rtol = max(a.shape[-2:]) * _np.finfo(s.dtype).eps
            tol = xp.max(s, axis=-1, keepdims=True) * xp.expand_dims(xp.asarray(rtol), -1)
        else:
            tol = xp.expand_dims(xp.asarray(tol), -1)
        return xp.count_nonzero(s > tol, axis=-1).astype(_np.int64)


def _as_float(a):
    """``a`` as an ndarray, integer or bool data as float32 (the default float)."""
    a = to_nd(a)
    return a if a.dtype.kind in "fc" else a.astype("float32")


def _float_matrices(a, name):
    a = _as_float(a)
    if a.ndim < 2:
        raise ValueError(f"linalg.{name} needs (..., M, N) matrices, got shape {a.shape}")
    return a


def qr(a, mode="reduced"):
    """Reduced QR ``(q, r)`` of (..., M, N) matrices, ``K = min(M, N)``: ``q`` (..., M, K)
    with orthonormal columns, ``r`` (..., K, N) upper triangular; ``mode='r'`` gives ``r``
    alone. Differentiable in both outputs."""
    if mode not in ("reduced", "r"):
        raise NotImplementedError(f"linalg.qr(mode={mode!r}) is not supported; use "
                                  "mode='reduced' (as MXNet) or 'r'")
    q, r = apply(_qr, (_float_matrices(a, "qr"),))
    return r if mode == "r" else (q, r)


def pinv(a, rcond=1e-15, hermitian=False, rtol=None):
    """Moore-Penrose pseudo-inverse of (..., M, N) matrices; ``rcond`` (a number or an
    array broadcasting against the stack) or numpy 2's ``rtol`` sets the cut-off relative
    to the largest singular value. Differentiable in ``a`` where its rank is constant."""
    a = _float_matrices(a, "pinv")
    if rtol is not None:
        rcond = rtol
    elif rcond is None:
        rcond = max(a.shape[-2:]) * _np.finfo(a.dtype.name).eps
    if hasattr(rcond, "dtype") or isinstance(rcond, (list, tuple)):
        rcond = to_nd(rcond, a)
    return apply(_pinv, (a, rcond))


def eigh(a, upper=False, UPLO=None):  # noqa: N803 - numpy's name
    """Eigenvalues (ascending) and eigenvectors ``(w, v)`` of symmetric matrices, read from
    the lower triangle (``upper=True`` or numpy's ``UPLO='U'``: the upper one).
    Differentiable (the symmetric gradient)."""
    return apply(_eigh, (_square(a, "eigh"),), {"uplo": _uplo(upper, UPLO)})


def eigvalsh(a, upper=False, UPLO=None):  # noqa: N803 - numpy's name
    """Eigenvalues (ascending) of symmetric matrices (see ``eigh``); differentiable."""
    return apply(_eigvalsh, (_square(a, "eigvalsh"),), {"uplo": _uplo(upper, UPLO)})


def eig(a):
    """Eigenvalues and right eigenvectors (columns) of square matrices; not differentiable."""
    return apply(_eig, (_square(a, "eig"),))


def eigvals(a):
    """Eigenvalues of square matrices; not differentiable."""
    return apply(_eigvals, (_square(a, "eigvals"),))


def lstsq(a, b, rcond="warn"):
    """numpy's least-squares solution ``(x, residuals, rank, s)`` of ``a x = b`` for a 2-D
    ``a`` and a 1-D or 2-D ``b``. ``rcond``: singular values below ``rcond * max(s)``
    count as zero; None is ``eps * max(M, N)``, ``'warn'`` (MXNet's default) or a negative
    value machine precision. Not differentiable (as MXNet)."""
    a = to_nd(a)
    b = to_nd(b, a)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"linalg.lstsq needs a 2-D a and a 1-D or 2-D b with as many rows, "
                         f"got shapes {a.shape} and {b.shape}")
    dtype = _np.result_type(a.dtype, b.dtype, _np.float32)
    a, b = a.astype(dtype), b.astype(dtype)
    eps = _np.finfo(dtype).eps
    if rcond is None:
        rcond = eps * max(a.shape)
    elif isinstance(rcond, str):
        if rcond != "warn":
            raise ValueError(f"linalg.lstsq: rcond must be a number, None or 'warn', got "
                             f"{rcond!r}")
        rcond = -1.0
    return apply(_lstsq, (a, b), {"rcond": float(rcond) if float(rcond) >= 0 else eps})


def matrix_rank(M, tol=None, hermitian=False, rtol=None):  # noqa: N803 - numpy's name
    """Rank of each matrix in ``M`` (singular values above ``tol``; ``tol`` and numpy 2's
    ``rtol`` broadcast against the stack); a 0-d or 1-D ``M`` has rank 0 or 1. int64."""
    M = _as_float(M)
    if tol is not None and not isinstance(tol, (int, float)):
        tol = to_nd(tol, M)
    return apply(_matrix_rank, (M, tol, rtol, bool(hermitian)))
