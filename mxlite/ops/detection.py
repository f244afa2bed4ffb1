"""Object-detection operators of ``mx.npx`` (MXNet 2.x's ``_npx_`` aliases of the contrib
detection ops), with MXNet's argument names, defaults, outputs and dtypes.

Boxes and IoU: ``box_iou``, ``box_nms``, ``bipartite_matching``, ``box_encode``,
``box_decode``; SSD: ``multibox_prior``, ``multibox_target``, ``multibox_detection``; region
pooling: ``roi_pooling``, ``roi_align``.

Gradients follow MXNet: ``box_nms`` routes the output gradient back to the input rows it
kept (through the corner/center conversion's Jacobian when ``in_format != out_format``,
where MXNet copies it unconverted); ``roi_pooling`` (to each bin's first maximum) and
``roi_align`` (the bilinear sampling's adjoint) differentiate w.r.t. the feature map and
give ``rois`` a zero gradient; every other op here gives all of its inputs a zero gradient,
as MXNet does.

Everything is written once against the array module ``xp``. The greedy loops (NMS, the
bipartite and SSD matchings) step over sorted positions, each step vectorised over batches
and boxes, so a step costs O(batch * boxes).
"""
import math as _math

import numpy as _np

from ..autograd import apply, defop
from ..base import is_floating
from . import ShapeError, add_at, to_nd

__all__ = ["box_iou", "box_nms", "bipartite_matching", "box_encode", "box_decode",
           "multibox_prior", "multibox_target", "multibox_detection", "roi_pooling",
           "roi_align"]

_FORMATS = ("corner", "center")


def _quiet():
    """numpy's warnings off for divisions whose results ``where`` discards."""
    return _np.errstate(divide="ignore", invalid="ignore", over="ignore")


def _zero_backward(ctx, g):
    """MXNet's zero gradient for every array input."""
    return tuple(ctx.xp.zeros_like(a) if need and hasattr(a, "shape") else None
                 for a, need in zip(ctx.inputs, ctx.need))


def _check_format(name, arg, value):
    if value not in _FORMATS:
        raise ValueError(f"{name}: {arg} must be 'corner' or 'center', got {value!r}")


def _check_float(name, **arrays):
    for arg, a in arrays.items():
        if not is_floating(a.dtype):
            raise TypeError(f"{name}: {arg} must be a floating-point array (MXNet), got "
                            f"{a.dtype}")


def _ltrb(xp, box, fmt):
    """(left, top, right, bottom) of boxes along the last axis in ``fmt``."""
    a, b, c, d = box[..., 0], box[..., 1], box[..., 2], box[..., 3]
    if fmt == "corner":
        return a, b, c, d
    return a - c / 2, b - d / 2, a + c / 2, b + d / 2


def _area(xp, box, fmt):
    """MXNet's BoxArea: width * height, 0 when either is negative."""
    if fmt == "corner":
        w, h = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    else:
        w, h = box[..., 2], box[..., 3]
    return xp.where((w < 0) | (h < 0), 0, w * h).astype(box.dtype, copy=False)


def _convert(xp, box, src, dst):
    """Boxes (..., 4) from format ``src`` to ``dst`` (a linear map)."""
    if src == dst:
        return box
    a, b, c, d = box[..., 0], box[..., 1], box[..., 2], box[..., 3]
    if dst == "center":
        return xp.stack([(a + c) / 2, (b + d) / 2, c - a, d - b], axis=-1)
    return xp.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=-1)


def _convert_adjoint(xp, g, src, dst):
    """The transpose of ``_convert``'s Jacobian applied to ``g`` (..., 4)."""
    if src == dst:
        return g
    a, b, c, d = g[..., 0], g[..., 1], g[..., 2], g[..., 3]
    if dst == "center":  # (cx, cy, w, h) of (l, t, r, b)
        return xp.stack([a / 2 - c, b / 2 - d, a / 2 + c, b / 2 + d], axis=-1)
    return xp.stack([a + c, b + d, (c - a) / 2, (d - b) / 2], axis=-1)


def _pairwise_inter(xp, l1, t1, r1, b1, l2, t2, r2, b2):
    w = xp.maximum(xp.minimum(r1, r2) - xp.maximum(l1, l2), 0)
    h = xp.maximum(xp.minimum(b1, b2) - xp.maximum(t1, t2), 0)
    return w * h


def _suppress(xp, alive, ltrb, areas, thresh, classes, limit, inclusive):
    """Greedy NMS over positions sorted by score: each surviving position ``i < limit``
    suppresses the later alive ones it overlaps (IoU > thresh, or >= with ``inclusive``),
    of its class when ``classes`` is given. ``alive`` (B, K); ``ltrb`` four (B, K)."""
    l, t, r, b = ltrb
    later = xp.arange(alive.shape[1])
    for i in range(limit):
        s = slice(i, i + 1)
        inter = _pairwise_inter(xp, l[:, s], t[:, s], r[:, s], b[:, s], l, t, r, b)
        union = areas[:, s] + areas - inter
        ok = union > 0
        iou = inter / xp.where(ok, union, 1)
        hit = ok & ((iou >= thresh) if inclusive else (iou > thresh))
        hit &= (later > i)[None, :] & alive[:, s]
        if classes is not None:
            hit &= classes == classes[:, s]
        alive = alive & ~hit
    return alive


# -- box_iou ---------------------------------------------------------------------------------
@defop("box_iou")
class _box_iou:
    """IoU of every lhs box with every rhs box; MXNet's zero gradient."""
    def forward(xp, lhs, rhs, format):
        a, b = lhs.reshape(-1, 4), rhs.reshape(-1, 4)
        l1, t1, r1, b1 = (v[:, None] for v in _ltrb(xp, a, format))
        l2, t2, r2, b2 = (v[None, :] for v in _ltrb(xp, b, format))
        inter = _pairwise_inter(xp, l1, t1, r1, b1, l2, t2, r2, b2)
        union = _area(xp, a, format)[:, None] + _area(xp, b, format)[None, :] - inter
        pos = inter > 0
        iou = xp.where(pos, inter / xp.where(pos, union, 1), 0).astype(lhs.dtype, copy=False)
        return iou.reshape(lhs.shape[:-1] + rhs.shape[:-1])

    backward = _zero_backward


def box_iou(lhs, rhs, format="corner"):
    """Intersection-over-union of boxes (..., 4) ``lhs`` and ``rhs``: shape
    ``lhs.shape[:-1] + rhs.shape[:-1]`` (MXNet ``npx.box_iou``); zero gradient."""
    lhs = to_nd(lhs)
    rhs = to_nd(rhs, lhs)
    _check_format("box_iou", "format", format)
    for arg, a in (("lhs", lhs), ("rhs", rhs)):
        if a.ndim < 2 or a.shape[-1] != 4:
            raise ShapeError(f"box_iou: {arg} must have at least 2 dimensions and a last "
                             f"dimension of 4, got shape {a.shape}")
    return apply(_box_iou, (lhs, rhs), {"format": format})


# -- box_nms ---------------------------------------------------------------------------------
def _rows(xp, shape):
    n, k = shape[-2], shape[-1]
    return int(_np.prod(shape[:-2], dtype=_np.int64)), n, k


@defop("box_nms", has_aux=True)
class _box_nms:
    """Non-maximum suppression per batch; the aux is each output row's input row (-1 for
    the -1-filled rows), which routes the gradient."""
    def forward(xp, data, overlap_thresh, valid_thresh, topk, coord_start, score_index,
                id_index, background_id, force_suppress, in_format, out_format):
        nb, n, k = _rows(xp, data.shape)
        x = data.reshape(nb, n, k)
        top = n if topk < 0 else min(n, topk)
        if top < 1:  # MXNet: the input unchanged
            record = xp.broadcast_to(xp.arange(n), (nb, n)).copy()
            return data.copy(), record
        scores = x[:, :, score_index]
        valid = scores > valid_thresh
        if id_index >= 0:
            valid &= x[:, :, id_index] != background_id
        # descending scores, stable (ties keep input order), invalid boxes last
        order = xp.argsort(xp.where(valid, -scores, xp.inf), axis=1, kind="stable")
        candidates = xp.minimum(valid.sum(axis=1), top)
        pos = xp.arange(n)
        alive = pos[None, :] < candidates[:, None]
        sx = xp.take_along_axis(x, order[:, :, None], axis=1)
        coords = sx[:, :, coord_start:coord_start + 4]
        classes = None
        if id_index >= 0 and not force_suppress:
            classes = sx[:, :, id_index].astype(_np.int64)  # MXNet compares int casts
        limit = int(candidates.max()) if nb * n else 0
        with _quiet():
            alive = _suppress(xp, alive, _ltrb(xp, coords, in_format),
                              _area(xp, coords, in_format), overlap_thresh, classes, limit,
                              inclusive=False)
        # the kept rows, in score order, to the front; -1 elsewhere
        dest = xp.where(alive, xp.cumsum(alive, axis=1) - 1, n)
        rows = xp.arange(nb)[:, None]
        out = xp.full((nb, n + 1, k), -1, dtype=data.dtype)
        out[rows, dest] = sx
        record = xp.full((nb, n + 1), -1, dtype=_np.int64)
        record[rows, dest] = order
        out, record = out[:, :n], record[:, :n]
        if in_format != out_format:
            c = out[:, :, coord_start:coord_start + 4]
            out[:, :, coord_start:coord_start + 4] = xp.where(
                (record >= 0)[:, :, None], _convert(xp, c, in_format, out_format), c)
        return out.reshape(data.shape), record

    def backward(ctx, g):
        p = ctx.params
        return (ctx.call(_box_nms_scatter, g, ctx.aux, coord_start=p["coord_start"],
                         in_format=p["in_format"], out_format=p["out_format"]),)


@defop("box_nms_scatter")
class _box_nms_scatter:
    """The gradient of box_nms: each output row's gradient to the input row it came from
    (through the format conversion's transposed Jacobian), zero for suppressed rows."""
    def forward(xp, g, record, coord_start, in_format, out_format):
        nb, n, k = _rows(xp, g.shape)
        g3 = g.reshape(nb, n, k)
        if in_format != out_format:
            g3 = g3.copy()
            s = slice(coord_start, coord_start + 4)
            g3[:, :, s] = _convert_adjoint(xp, g3[:, :, s], in_format, out_format)
        gx = xp.zeros((nb, n + 1, k), dtype=g.dtype)
        gx[xp.arange(nb)[:, None], xp.where(record >= 0, record, n)] = g3
        return gx[:, :n].reshape(g.shape)

    def backward(ctx, gz):
        return ctx.call(_box_nms_gather, gz, ctx.inputs[1], **ctx.params), None


@defop("box_nms_gather")
class _box_nms_gather:
    """The adjoint of ``box_nms_scatter``: the kept input rows, converted, zero elsewhere."""
    def forward(xp, x, record, coord_start, in_format, out_format):
        nb, n, k = _rows(xp, x.shape)
        x3 = x.reshape(nb, n, k)
        kept = (record >= 0)[:, :, None]
        out = xp.take_along_axis(x3, xp.maximum(record, 0)[:, :, None], axis=1)
        if in_format != out_format:
            s = slice(coord_start, coord_start + 4)
            out[:, :, s] = _convert(xp, out[:, :, s], in_format, out_format)
        return xp.where(kept, out, 0).astype(x.dtype, copy=False).reshape(x.shape)

    def backward(ctx, g):
        return ctx.call(_box_nms_scatter, g, ctx.inputs[1], **ctx.params), None


def box_nms(data, overlap_thresh=0.5, valid_thresh=0, topk=-1, coord_start=2, score_index=1,
            id_index=-1, background_id=-1, force_suppress=False, in_format="corner",
            out_format="corner"):
    """Non-maximum suppression (MXNet ``npx.box_nms``) of boxes ``data`` (..., n, k), each
    row ``[.., score, .., x1, y1, x2, y2, ..]``: per batch, rows with score > valid_thresh
    (and class != background_id when id_index >= 0), the topk highest, are visited in
    descending score order; each kept row suppresses later ones of IoU > overlap_thresh
    (of its class unless force_suppress or id_index < 0). The kept rows come first in score
    order, the rest are -1. The gradient goes back to the kept rows."""
    data = to_nd(data)
    _check_format("box_nms", "in_format", in_format)
    _check_format("box_nms", "out_format", out_format)
    if data.ndim < 2:
        raise ShapeError(f"box_nms: data must have at least 2 dimensions (..., num_box, "
                         f"box_width), got shape {data.shape}")
    width = data.shape[-1]
    need = 6 if id_index >= 0 else 5
    if width < need:
        raise ShapeError(f"box_nms: the last dimension of data (shape {data.shape}) must "
                         f"have at least {need} elements (score, 4 coordinates"
                         f"{', class id' if id_index >= 0 else ''})")
    if not 0 <= score_index < width:
        raise ValueError(f"box_nms: score_index {score_index} out of range for data of "
                         f"shape {data.shape}")
    if not (0 <= coord_start and coord_start + 3 < width):
        raise ValueError(f"box_nms: coordinates {coord_start}..{coord_start + 3} out of "
                         f"range for data of shape {data.shape}")
    if coord_start <= score_index <= coord_start + 3:
        raise ValueError(f"box_nms: score_index {score_index} conflicts with the "
                         f"coordinates {coord_start}..{coord_start + 3}")
    if id_index >= 0:
        if id_index >= width or coord_start <= id_index <= coord_start + 3 \
                or id_index == score_index:
            raise ValueError(f"box_nms: id_index {id_index} is out of range for data of "
                             f"shape {data.shape} or conflicts with the score or coordinates")
    return apply(_box_nms, (data,), {
        "overlap_thresh": float(overlap_thresh), "valid_thresh": float(valid_thresh),
        "topk": int(topk), "coord_start": int(coord_start), "score_index": int(score_index),
        "id_index": int(id_index), "background_id": float(background_id),
        "force_suppress": bool(force_suppress), "in_format": in_format,
        "out_format": out_format})


# -- bipartite_matching ----------------------------------------------------------------------
@defop("bipartite_matching", nout=2)
class _bipartite_matching:
    """Greedy bipartite matching on a score matrix; MXNet's zero gradient."""
    def forward(xp, data, threshold, is_ascend, topk):
        n, m = data.shape[-2], data.shape[-1]
        nb = int(_np.prod(data.shape[:-2], dtype=_np.int64))
        s = data.reshape(nb, n, m)
        row = xp.full((nb, n), -1, dtype=data.dtype)
        col = xp.full((nb, m), -1, dtype=data.dtype)
        row_free = xp.ones((nb, n), dtype=bool)
        col_free = xp.ones((nb, m), dtype=bool)
        going = xp.ones((nb,), dtype=bool)  # MXNet stops at the first failing score
        steps = min(n, m) if topk <= 0 else min(n, m, topk)
        fill = xp.inf if is_ascend else -xp.inf
        batch = xp.arange(nb)
        for _ in range(steps):
            avail = row_free[:, :, None] & col_free[:, None, :]
            cand = xp.where(avail, s, fill).reshape(nb, n * m)
            flat = xp.argmin(cand, axis=1) if is_ascend else xp.argmax(cand, axis=1)
            best = xp.take_along_axis(cand, flat[:, None], axis=1)[:, 0]
            good = (best < threshold) if is_ascend else (best > threshold)
            going &= good & avail.reshape(nb, n * m).any(axis=1)
            r, c = flat // m, flat % m
            row[batch, r] = xp.where(going, c, row[batch, r]).astype(row.dtype, copy=False)
            col[batch, c] = xp.where(going, r, col[batch, c]).astype(col.dtype, copy=False)
            row_free[batch, r] &= ~going
            col_free[batch, c] &= ~going
        return row.reshape(data.shape[:-1]), col.reshape(data.shape[:-2] + (m,))

    backward = _zero_backward


def bipartite_matching(data, is_ascend=False, threshold=None, topk=-1):
    """Greedy bipartite matching (MXNet ``npx.bipartite_matching``) of score matrices
    ``data`` (..., N, M): pairs are taken best score first (descending, or ascending with
    is_ascend), skipping used rows and columns, until a score fails ``threshold`` (must be
    > it, or < it with is_ascend) or ``topk`` pairs are matched. Returns (row -> matched
    column or -1, shape (..., N); column -> matched row or -1, shape (..., M)), in data's
    dtype; zero gradient."""
    if threshold is None:
        raise TypeError("bipartite_matching: threshold is required (MXNet)")
    data = to_nd(data)
    if data.ndim < 2:
        raise ShapeError(f"bipartite_matching: the score matrix must have at least 2 "
                         f"dimensions, got shape {data.shape}")
    return apply(_bipartite_matching, (data,), {"threshold": float(threshold),
                                                "is_ascend": bool(is_ascend),
                                                "topk": int(topk)})


# -- box_encode / box_decode -----------------------------------------------------------------
def _center_wh(xp, box):
    """(x, y, w, h) of corner boxes, as MXNet computes them (x = xmin + w * 0.5)."""
    w = box[..., 2] - box[..., 0]
    h = box[..., 3] - box[..., 1]
    return box[..., 0] + w * 0.5, box[..., 1] + h * 0.5, w, h


@defop("box_encode", nout=2)
class _box_encode:
    def forward(xp, samples, matches, anchors, refs, means, stds):
        m = refs.shape[1]
        idx = xp.clip(matches.astype(_np.int64), 0, m - 1)
        ref = xp.take_along_axis(refs, idx[:, :, None], axis=1).astype(anchors.dtype)
        rx, ry, rw, rh = _center_wh(xp, ref)
        ax, ay, aw, ah = _center_wh(xp, anchors)
        means = means.astype(anchors.dtype)
        stds = stds.astype(anchors.dtype)
        with _quiet():
            t = xp.stack([((rx - ax) / aw - means[0]) / stds[0],
                          ((ry - ay) / ah - means[1]) / stds[1],
                          (xp.log(rw / aw) - means[2]) / stds[2],
                          (xp.log(rh / ah) - means[3]) / stds[3]], axis=-1)
        valid = (samples > 0.5)[:, :, None]
        targets = xp.where(valid, t, 0).astype(anchors.dtype, copy=False)
        masks = xp.broadcast_to(valid, anchors.shape).astype(anchors.dtype)
        return targets, masks

    backward = _zero_backward


def box_encode(samples, matches, anchors, refs, means, stds):
    """Encode box regression targets (MXNet ``npx.box_encode``): for anchors (B, N, 4) and
    reference boxes refs (B, M, 4), both corners, the anchor's matched ref
    ``refs[b, matches[b, n]]`` as ``((x - ax) / aw, (y - ay) / ah, log(w / aw), log(h / ah))``
    less ``means`` over ``stds`` (both (4,)) where ``samples`` (B, N) > 0.5, else 0.
    Returns (targets, masks), both (B, N, 4); zero gradient."""
    anchors = to_nd(anchors)
    samples, matches, refs, means, stds = (to_nd(a, anchors)
                                           for a in (samples, matches, refs, means, stds))
    if anchors.ndim != 3 or anchors.shape[-1] != 4:
        raise ShapeError(f"box_encode: anchors must be (B, N, 4), got shape {anchors.shape}")
    b, n = anchors.shape[:2]
    for arg, a in (("samples", samples), ("matches", matches)):
        if a.shape != (b, n):
            raise ShapeError(f"box_encode: {arg} must be (B, N) = {(b, n)} for anchors of "
                             f"shape {anchors.shape}, got shape {a.shape}")
    if refs.ndim != 3 or refs.shape[0] != b or refs.shape[-1] != 4:
        raise ShapeError(f"box_encode: refs must be (B, M, 4) with B = {b}, got shape "
                         f"{refs.shape}")
    for arg, a in (("means", means), ("stds", stds)):
        if a.shape != (4,):
            raise ShapeError(f"box_encode: {arg} must have shape (4,), got {a.shape}")
    return apply(_box_encode, (samples, matches, anchors, refs, means, stds))


@defop("box_decode")
class _box_decode:
    def forward(xp, data, anchors, stds, clip, format):
        n = data.shape[1]
        a = anchors.reshape(1, n, 4).astype(data.dtype, copy=False)
        if format == "corner":
            ax, ay, aw, ah = _center_wh(xp, a)
        else:
            ax, ay, aw, ah = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
        ox = data[..., 0] * stds[0] * aw + ax
        oy = data[..., 1] * stds[1] * ah + ay
        dw = data[..., 2] * stds[2]
        dh = data[..., 3] * stds[3]
        if clip > 0:
            dw = xp.minimum(dw, clip)
            dh = xp.minimum(dh, clip)
        ow = xp.exp(dw) * aw * 0.5
        oh = xp.exp(dh) * ah * 0.5
        return xp.stack([ox - ow, oy - oh, ox + ow, oy + oh], axis=-1).astype(data.dtype,
                                                                             copy=False)

    backward = _zero_backward


def box_decode(data, anchors, std0=1.0, std1=1.0, std2=1.0, std3=1.0, clip=-1.0,
               format="center"):
    """Decode box offsets (MXNet ``npx.box_decode``): data (B, N, 4) against anchors
    (1, N, 4) in ``format``: corners ``x +- w / 2`` of ``x = d0 * std0 * aw + ax``,
    ``w = exp(min(d2 * std2, clip)) * aw`` (clip when > 0), ... Output (B, N, 4) corners;
    zero gradient."""
    data = to_nd(data)
    anchors = to_nd(anchors, data)
    _check_format("box_decode", "format", format)
    if data.ndim != 3 or data.shape[-1] != 4:
        raise ShapeError(f"box_decode: data must be (B, N, 4), got shape {data.shape}")
    if anchors.ndim < 3 or anchors.shape[-1] != 4 or anchors.size != data.shape[1] * 4:
        raise ShapeError(f"box_decode: anchors must be (1, N, 4) with N = {data.shape[1]} "
                         f"(data shape {data.shape}), got shape {anchors.shape}")
    return apply(_box_decode, (data, anchors), {
        "stds": (float(std0), float(std1), float(std2), float(std3)), "clip": float(clip),
        "format": format})


# -- multibox_prior --------------------------------------------------------------------------
@defop("multibox_prior")
class _multibox_prior:
    def forward(xp, data, sizes, ratios, clip, steps, offsets):
        h, w = data.shape[2], data.shape[3]
        step_y, step_x = steps
        if step_y <= 0 or step_x <= 0:
            step_y, step_x = 1.0 / h, 1.0 / w
        half = [(s * h / w / 2, s / 2) for s in sizes]  # ratio 1, every size
        for r in ratios[1:]:  # sizes[0], the other ratios (MXNet takes ratios[0] as 1)
            sr = _math.sqrt(r)
            half.append((sizes[0] * h / w * sr / 2, sizes[0] / sr / 2))
        half = xp.asarray(_np.array(half, dtype=_np.float64))
        cy = (xp.arange(h, dtype=_np.float64) + offsets[0]) * step_y
        cx = (xp.arange(w, dtype=_np.float64) + offsets[1]) * step_x
        cx = xp.broadcast_to(cx[None, :, None], (h, w, len(half)))
        cy = xp.broadcast_to(cy[:, None, None], (h, w, len(half)))
        hw, hh = half[:, 0], half[:, 1]
        out = xp.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=-1).reshape(1, -1, 4)
        if clip:
            out = xp.clip(out, 0, 1)
        return out.astype(data.dtype)

    backward = _zero_backward


def multibox_prior(data, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                   offsets=(0.5, 0.5)):
    """SSD anchor boxes (MXNet ``npx.multibox_prior``) for the feature map ``data``
    (N, C, H, W): at each location (row-major) one box per size (ratio 1), then one per
    ratio after the first with sizes[0]; shape (1, H * W * (len(sizes) + len(ratios) - 1),
    4), corners normalised to the map (steps default 1/H, 1/W); zero gradient."""
    data = to_nd(data)
    if data.ndim < 4:
        raise ShapeError(f"multibox_prior: data should be 4D (batch, channel, y, x), got "
                         f"shape {data.shape}")
    if data.shape[2] < 1 or data.shape[3] < 1:
        raise ShapeError(f"multibox_prior: input height and width must be > 0, got shape "
                         f"{data.shape}")
    sizes = tuple(float(s) for s in _as_tuple(sizes))
    ratios = tuple(float(r) for r in _as_tuple(ratios))
    steps = tuple(float(s) for s in _as_tuple(steps))
    offsets = tuple(float(o) for o in _as_tuple(offsets))
    if not sizes or not ratios:
        raise ValueError("multibox_prior: sizes and ratios must not be empty")
    if len(steps) != 2 or len(offsets) != 2:
        raise ValueError(f"multibox_prior: steps and offsets must have 2 elements (y, x), "
                         f"got steps={steps}, offsets={offsets}")
    if steps[0] * steps[1] < 0:
        raise ValueError("multibox_prior: must specify both step_y and step_x")
    if not all(0 <= o <= 1 for o in offsets):
        raise ValueError(f"multibox_prior: offsets must lie in [0, 1], got {offsets}")
    return apply(_multibox_prior, (data,), {"sizes": sizes, "ratios": ratios,
                                            "clip": bool(clip), "steps": steps,
                                            "offsets": offsets})


def _as_tuple(v):
    if isinstance(v, (list, tuple)):
        return tuple(v)
    if hasattr(v, "tolist"):
        v = v.tolist()
        return tuple(v) if isinstance(v, list) else (v,)
    return (v,)


# -- multibox_target -------------------------------------------------------------------------
@defop("multibox_target", nout=3)
class _multibox_target:
    def forward(xp, anchor, label, cls_pred, overlap_threshold, ignore_label,
                negative_mining_ratio, negative_mining_thresh, minimum_negative_samples,
                variances):
        dtype = cls_pred.dtype
        anchors = anchor.reshape(-1, 4).astype(dtype, copy=False)
        labels = label.astype(dtype, copy=False)
        nb, m = labels.shape[:2]
        n = anchors.shape[0]
        # the valid ground truths: those before the first with class id -1
        gt_ok = xp.cumprod(labels[:, :, 0] != -1, axis=1).astype(bool)
        has_gt = gt_ok.any(axis=1)
        al, at, ar, ab = (v[None, :, None] for v in _ltrb(xp, anchors, "corner"))
        gl, gt, gr, gb = (labels[:, None, :, j] for j in (1, 2, 3, 4))
        inter = _pairwise_inter(xp, al, at, ar, ab, gl, gt, gr, gb)
        union = (ar - al) * (ab - at) + (gr - gl) * (gb - gt) - inter
        iou = xp.where(union == 0, 0, inter / xp.where(union == 0, 1, union))  # (B, N, M)
        iou = xp.where(gt_ok[:, None, :], iou, -xp.inf)
        positive = xp.zeros((nb, n), dtype=bool)
        match = xp.zeros((nb, n), dtype=_np.int64)
        gt_free = gt_ok.copy()
        batch = xp.arange(nb)
        for _ in range(m):  # each ground truth to its best free anchor, best pair first
            cand = xp.where((~positive)[:, :, None] & gt_free[:, None, :], iou, -xp.inf)
            flat = xp.argmax(cand.reshape(nb, n * m), axis=1)
            best = xp.take_along_axis(cand.reshape(nb, n * m), flat[:, None], axis=1)[:, 0]
            ok = best > 1e-6
            j, k = flat // m, flat % m
            positive[batch, j] |= ok
            match[batch, j] = xp.where(ok, k, match[batch, j])
            gt_free[batch, k] &= ~ok
        max_iou = iou.max(axis=2)
        best_gt = iou.argmax(axis=2)
        if overlap_threshold > 0:  # other anchors to their best ground truth above it
            good = ~positive & (max_iou > overlap_threshold)
            match = xp.where(good, best_gt, match)
            positive |= good
        if negative_mining_ratio > 0:
            npos = positive.sum(axis=1)
            nneg = xp.floor(npos * negative_mining_ratio).astype(_np.int64)
            nneg = xp.minimum(xp.maximum(nneg, minimum_negative_samples), n - npos)
            cand = ~positive & (max_iou < negative_mining_thresh)
            z = cls_pred - cls_pred.max(axis=1, keepdims=True)
            e = xp.exp(z)
            background = e[:, 0, :] / e.sum(axis=1)
            # the hardest negatives: lowest background probability first (stable)
            order = xp.argsort(xp.where(cand, background, xp.inf), axis=1, kind="stable")
            rank = xp.argsort(order, axis=1, kind="stable")
            negative = cand & (rank < nneg[:, None])
        else:
            negative = ~positive
        positive &= has_gt[:, None]
        negative &= has_gt[:, None] & ~positive
        gtm = xp.take_along_axis(labels, match[:, :, None], axis=1)  # (B, N, width)
        cls_target = xp.where(positive, gtm[:, :, 0] + 1,
                              xp.where(negative, 0, ignore_label)).astype(dtype, copy=False)
        ax, ay, aw, ah = (v[None] for v in _center_wh(xp, anchors))
        gx, gy, gw, gh = _center_wh(xp, gtm[:, :, 1:5])
        vx, vy, vw, vh = variances
        with _quiet():
            loc = xp.stack([(gx - ax) / aw / vx, (gy - ay) / ah / vy,
                            xp.log(gw / aw) / vw, xp.log(gh / ah) / vh], axis=-1)
        mask = xp.broadcast_to(positive[:, :, None], (nb, n, 4))
        loc = xp.where(mask, loc, 0).astype(dtype, copy=False).reshape(nb, n * 4)
        return loc, mask.astype(dtype).reshape(nb, n * 4), cls_target

    backward = _zero_backward


def multibox_target(anchor, label, cls_pred, overlap_threshold=0.5, ignore_label=-1.0,
                    negative_mining_ratio=-1.0, negative_mining_thresh=0.5,
                    minimum_negative_samples=0, variances=(0.1, 0.1, 0.2, 0.2)):
    """SSD training targets (MXNet ``npx.multibox_target``) for anchors (1, N, 4), labels
    (B, M, >= 5) rows ``[class, x1, y1, x2, y2]`` padded with class -1, and class
    predictions cls_pred (B, num_classes, N). Each ground truth takes its best anchor (best
    pair first), then anchors with IoU > overlap_threshold their best ground truth;
    negatives are all other anchors, or with negative_mining_ratio > 0 the
    max(ratio * positives, minimum_negative_samples) of IoU < negative_mining_thresh with
    the lowest background probability. Returns (loc_target (B, N * 4), loc_mask
    (B, N * 4), cls_target (B, N): class + 1, 0 for negatives, ignore_label otherwise);
    zero gradient."""
    cls_pred = to_nd(cls_pred)
    anchor, label = to_nd(anchor, cls_pred), to_nd(label, cls_pred)
    if anchor.ndim != 3 or anchor.shape[0] != 1 or anchor.shape[2] != 4 or anchor.shape[1] < 1:
        raise ShapeError(f"multibox_target: anchor must be (1, N, 4), shared by the batch, "
                         f"got shape {anchor.shape}")
    if label.ndim != 3 or label.shape[1] < 1 or label.shape[2] < 5:
        raise ShapeError(f"multibox_target: label must be (batch, num_labels, >= 5), got "
                         f"shape {label.shape}")
    if cls_pred.ndim != 3 or cls_pred.shape[2] != anchor.shape[1] \
            or cls_pred.shape[0] != label.shape[0]:
        raise ShapeError(f"multibox_target: cls_pred must be (batch, num_classes, N) for "
                         f"anchor {anchor.shape} and label {label.shape}, got shape "
                         f"{cls_pred.shape}")
    variances = tuple(float(v) for v in _as_tuple(variances))
    if len(variances) != 4:
        raise ValueError(f"multibox_target: variances must have 4 elements, got {variances}")
    if negative_mining_ratio > 0 and negative_mining_thresh <= 0:
        raise ValueError("multibox_target: negative_mining_thresh must be > 0 for "
                         "negative mining")
    return apply(_multibox_target, (anchor, label, cls_pred), {
        "overlap_threshold": float(overlap_threshold), "ignore_label": float(ignore_label),
        "negative_mining_ratio": float(negative_mining_ratio),
        "negative_mining_thresh": float(negative_mining_thresh),
        "minimum_negative_samples": int(minimum_negative_samples), "variances": variances})


# -- multibox_detection ----------------------------------------------------------------------
@defop("multibox_detection")
class _multibox_detection:
    def forward(xp, cls_prob, loc_pred, anchor, clip, threshold, nms_threshold,
                force_suppress, variances, nms_topk):
        dtype = cls_prob.dtype
        nb, nc, n = cls_prob.shape
        if nc > 1:
            fg = cls_prob[:, 1:, :]
            score = fg.max(axis=1)
            cid = fg.argmax(axis=1) + 1
            low = ~(score > -1)  # MXNet starts its running maximum at -1
            score = xp.where(low, -1, score)
            cid = xp.where(low, 0, cid)
        else:
            score = xp.full((nb, n), -1, dtype=dtype)
            cid = xp.zeros((nb, n), dtype=_np.int64)
        cid = xp.where((cid > 0) & (score < threshold), 0, cid)
        a = anchor.reshape(1, n, 4).astype(dtype, copy=False)
        aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
        ax, ay = (a[..., 0] + a[..., 2]) / 2, (a[..., 1] + a[..., 3]) / 2
        p = loc_pred.reshape(nb, n, 4).astype(dtype, copy=False)
        vx, vy, vw, vh = variances
        ox, oy = p[..., 0] * vx * aw + ax, p[..., 1] * vy * ah + ay
        ow, oh = xp.exp(p[..., 2] * vw) * aw / 2, xp.exp(p[..., 3] * vh) * ah / 2
        boxes = xp.stack([ox - ow, oy - oh, ox + ow, oy + oh], axis=-1)
        if clip:
            boxes = xp.clip(boxes, 0, 1)
        rows = xp.concatenate([(cid - 1).astype(dtype)[:, :, None],
                               score.astype(dtype)[:, :, None], boxes.astype(dtype)], axis=2)
        valid = cid > 0
        # the valid detections to the front, in anchor order; -1 rows after them
        order = xp.argsort((~valid).astype(_np.int8), axis=1, kind="stable")
        nvalid = valid.sum(axis=1)
        pos = xp.arange(n)[None, :]
        in_valid = pos < nvalid[:, None]
        compact = xp.where(in_valid[:, :, None],
                           xp.take_along_axis(rows, order[:, :, None], axis=1), -1)
        if not 0 < nms_threshold <= 1:
            return compact.astype(dtype, copy=False)
        key = xp.where(in_valid, -compact[:, :, 1], xp.inf)
        srt = xp.take_along_axis(compact, xp.argsort(key, axis=1, kind="stable")[:, :, None],
                                 axis=1)
        nkeep = nvalid if nms_topk <= 0 else xp.minimum(nvalid, nms_topk)
        kept = pos < nkeep[:, None]
        # MXNet: the first nkeep rows sorted; the valid rows past them keep their unsorted
        # place with class -1
        out = xp.where(kept[:, :, None], srt, compact)
        ids = xp.where(in_valid & ~kept, -1, out[:, :, 0])
        b = out[:, :, 2:6]
        areas = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        limit = int(nkeep.max()) if nb * n else 0
        with _quiet():
            alive = _suppress(xp, kept, _ltrb(xp, b, "corner"), areas, nms_threshold,
                              None if force_suppress else ids, limit, inclusive=True)
        ids = xp.where(kept & ~alive, -1, ids)
        out = xp.concatenate([ids[:, :, None], out[:, :, 1:]], axis=2)
        return out.astype(dtype, copy=False)

    backward = _zero_backward


def multibox_detection(cls_prob, loc_pred, anchor, clip=True, threshold=0.01, background_id=0,
                       nms_threshold=0.5, force_suppress=False,
                       variances=(0.1, 0.1, 0.2, 0.2), nms_topk=-1):
    """SSD detections (MXNet ``npx.multibox_detection``) from class probabilities cls_prob
    (B, num_classes, N) (class 0 the background), offsets loc_pred (B, N * 4) and anchors
    (1, N, 4): rows ``[class, score, x1, y1, x2, y2]`` (B, N, 6) of each anchor's best
    foreground class (score >= threshold), decoded with ``variances`` (clipped to [0, 1]),
    valid ones first, sorted by score and NMS-ed (IoU >= nms_threshold, per class unless
    force_suppress; nms_topk highest) when 0 < nms_threshold <= 1, suppressed rows getting
    class -1, the rest -1; zero gradient."""
    cls_prob = to_nd(cls_prob)
    loc_pred, anchor = to_nd(loc_pred, cls_prob), to_nd(anchor, cls_prob)
    if int(background_id) != 0:
        raise NotImplementedError(
            f"multibox_detection: background_id={background_id}; MXNet's kernel treats "
            "class 0 as the background whatever background_id says, and so does mxlite: "
            "move the background class to index 0")
    if cls_prob.ndim != 3:
        raise ShapeError(f"multibox_detection: cls_prob must be (batch, num_classes, "
                         f"num_anchors), got shape {cls_prob.shape}")
    nb, _, n = cls_prob.shape
    if anchor.ndim != 3 or anchor.shape[1] != n or anchor.shape[2] != 4 or n < 1:
        raise ShapeError(f"multibox_detection: anchor must be (1, num_anchors, 4) for "
                         f"cls_prob of shape {cls_prob.shape}, got shape {anchor.shape}")
    if loc_pred.ndim != 2 or loc_pred.shape != (nb, n * 4):
        raise ShapeError(f"multibox_detection: loc_pred must be (batch, num_anchors * 4) = "
                         f"{(nb, n * 4)} for cls_prob of shape {cls_prob.shape}, got shape "
                         f"{loc_pred.shape}")
    variances = tuple(float(v) for v in _as_tuple(variances))
    if len(variances) != 4:
        raise ValueError(f"multibox_detection: variances must have 4 elements, got "
                         f"{variances}")
    return apply(_multibox_detection, (cls_prob, loc_pred, anchor), {
        "clip": bool(clip), "threshold": float(threshold),
        "nms_threshold": float(nms_threshold), "force_suppress": bool(force_suppress),
        "variances": variances, "nms_topk": int(nms_topk)})


# -- roi_pooling -----------------------------------------------------------------------------
def _c_round(xp, v):
    """C's round: halves away from zero."""
    return xp.sign(v) * xp.floor(xp.abs(v) + 0.5)


@defop("roi_pooling", has_aux=True)
class _roi_pooling:
    """Max pooling of each ROI's bins; the aux is each output's flat input index (-1 for
    empty bins), where the gradient goes."""
    def forward(xp, data, rois, pooled_size, spatial_scale):
        nb, c, h, w = data.shape
        ph, pw = pooled_size
        r = rois.shape[0]
        bidx = rois[:, 0].astype(_np.int64)
        corners = _c_round(xp, rois[:, 1:5] * spatial_scale).astype(_np.int64)
        x1, y1, x2, y2 = (corners[:, j] for j in range(4))
        bin_h = (xp.maximum(y2 - y1 + 1, 1) / ph).astype(data.dtype)
        bin_w = (xp.maximum(x2 - x1 + 1, 1) / pw).astype(data.dtype)

        def bins(start, size, binsize, count):
            k = xp.arange(count, dtype=data.dtype)[None, :]
            lo = xp.floor(k * binsize[:, None]).astype(_np.int64) + start[:, None]
            hi = xp.ceil((k + 1) * binsize[:, None]).astype(_np.int64) + start[:, None]
            lo, hi = xp.clip(lo, 0, size), xp.clip(hi, 0, size)
            grid = xp.arange(size)[None, None, :]
            return (grid >= lo[:, :, None]) & (grid < hi[:, :, None]), hi <= lo

        hmask, hempty = bins(y1, h, bin_h, ph)  # (R, PH, H), (R, PH)
        wmask, wempty = bins(x1, w, bin_w, pw)
        feats = data[bidx]  # (R, C, H, W)
        # a bin's maximum: over its columns per row, then over its rows (the first maximum
        # in row-major order, as MXNet's scan)
        colmax = xp.empty((r, c, h, pw), dtype=data.dtype)
        colarg = xp.empty((r, c, h, pw), dtype=_np.int64)
        for q in range(pw):
            v = xp.where(wmask[:, q][:, None, None, :], feats, -xp.inf)
            colmax[..., q] = v.max(axis=3)
            colarg[..., q] = v.argmax(axis=3)
        v = xp.where(hmask[:, None, :, :, None], colmax[:, :, None], -xp.inf)  # R,C,PH,H,PW
        out = v.max(axis=3)
        rowarg = v.argmax(axis=3)  # (R, C, PH, PW)
        colsel = xp.take_along_axis(colarg, rowarg, axis=2)
        empty = (hempty[:, :, None] | wempty[:, None, :])[:, None]  # (R, 1, PH, PW)
        out = xp.where(empty, 0, out).astype(data.dtype, copy=False)
        base = (bidx[:, None] * c + xp.arange(c)[None, :]) * (h * w)  # (R, C)
        index = xp.where(empty, -1, base[:, :, None, None] + rowarg * w + colsel)
        return out, index

    def backward(ctx, g):
        data, rois = ctx.inputs[:2]
        return (ctx.call(_roi_scatter, g, ctx.aux, shape=data.shape),
                ctx.xp.zeros_like(rois) if ctx.need[1] else None)


@defop("roi_pooling_scatter")
class _roi_scatter:
    """``g`` added at the flat input indices ``index`` (skipping -1) of an array of
    ``shape``."""
    def forward(xp, g, index, shape):
        size = int(_np.prod(shape, dtype=_np.int64))
        gx = xp.zeros(size + 1, dtype=g.dtype)
        add_at(xp, gx, xp.where(index >= 0, index, size).reshape(-1), g.reshape(-1))
        return gx[:size].reshape(shape)

    def backward(ctx, gz):
        return ctx.call(_roi_gather, gz, ctx.inputs[1]), None


@defop("roi_pooling_gather")
class _roi_gather:
    """``x``'s elements at the flat indices ``index`` (0 at -1)."""
    def forward(xp, x, index):
        flat = x.reshape(-1)
        return xp.where(index >= 0, flat[xp.maximum(index, 0)], 0).astype(x.dtype, copy=False)

    def backward(ctx, g):
        x, index = ctx.inputs
        return ctx.call(_roi_scatter, g, index, shape=x.shape), None


def _pair(name, pooled_size):
    ps = _as_tuple(pooled_size)
    if len(ps) == 1:
        ps = ps * 2
    if len(ps) != 2 or any(int(p) < 1 for p in ps):
        raise ValueError(f"{name}: pooled_size must be two positive integers (h, w), got "
                         f"{pooled_size}")
    return int(ps[0]), int(ps[1])


def _roi_inputs(name, data, rois):
    data = to_nd(data)
    rois = to_nd(rois, data)
    _check_float(name, data=data, rois=rois)
    if data.ndim != 4:
        raise ShapeError(f"{name}: data must be a 4D feature map (batch, channel, height, "
                         f"width), got shape {data.shape}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ShapeError(f"{name}: rois must be (num_rois, 5) rows [batch_index, x1, y1, x2, "
                         f"y2], got shape {rois.shape}")
    return data, rois


def roi_pooling(data, rois, pooled_size=None, spatial_scale=None):
    """Region-of-interest max pooling (MXNet ``npx.roi_pooling``): each roi
    ``[batch_index, x1, y1, x2, y2]`` is scaled by spatial_scale and rounded, split into
    pooled_size (h, w) bins, each bin max-pooled (0 when empty). Output (num_rois, C, h,
    w); the gradient goes to each bin's first maximum; rois get a zero gradient."""
    if pooled_size is None or spatial_scale is None:
        raise TypeError("roi_pooling: pooled_size and spatial_scale are required (MXNet)")
    data, rois = _roi_inputs("roi_pooling", data, rois)
    return apply(_roi_pooling, (data, rois), {
        "pooled_size": _pair("roi_pooling", pooled_size),
        "spatial_scale": float(spatial_scale)})


# -- roi_align -------------------------------------------------------------------------------
def _sample_weights(xp, start, binsize, grid, gmax, count, size, dtype):
    """(R, P, size): each bin's interpolation weights onto one axis of the map, summed over
    its ``grid`` samples (``gmax`` at most) and divided by ``count``."""
    k = xp.arange(count, dtype=dtype)[None, :, None]
    i = xp.arange(gmax, dtype=dtype)[None, None, :]
    g = xp.maximum(grid, 1).astype(dtype)[:, None, None]  # a 0 grid (aligned) samples nothing
    y = start[:, None, None] + k * binsize[:, None, None] + (i + 0.5) * binsize[:, None, None] / g
    use = (i < grid[:, None, None]) & (y >= -1) & (y <= size)  # off the map: 0 (MXNet)
    y = xp.maximum(y, 0)
    low = xp.floor(y).astype(_np.int64)
    end = low >= size - 1
    low = xp.where(end, size - 1, low)
    high = xp.where(end, size - 1, low + 1)
    y = xp.where(end, low.astype(dtype), y)
    frac = y - low
    cells = xp.arange(size)[None, None, None, :]
    wts = ((1 - frac)[..., None] * (cells == low[..., None])
           + frac[..., None] * (cells == high[..., None]))
    return (wts * use[..., None]).sum(axis=2).astype(dtype, copy=False)


def _align_weights(xp, rois, shape, pooled_size, spatial_scale, sample_ratio, aligned):
    """(Wy (R, PH, H) with the 1/count of each roi, Wx (R, PW, W), batch index (R,))."""
    _, _, h, w = shape
    ph, pw = pooled_size
    dtype = rois.dtype
    offset = 0.5 if aligned else 0.0
    box = rois[:, 1:5] * spatial_scale - offset
    rw, rh = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    if not aligned:  # MXNet: malformed rois forced to 1 x 1
        rw, rh = xp.maximum(rw, 1), xp.maximum(rh, 1)
    bin_h, bin_w = rh / ph, rw / pw
    if sample_ratio > 0:
        gh = gw = xp.full(rois.shape[0], sample_ratio, dtype=_np.int64)
        gmax_h = gmax_w = sample_ratio
    else:
        gh = xp.ceil(rh / ph).astype(_np.int64)
        gw = xp.ceil(rw / pw).astype(_np.int64)
        gmax_h = int(gh.max()) if rois.shape[0] else 0
        gmax_w = int(gw.max()) if rois.shape[0] else 0
    count = xp.maximum(gh * gw, 1).astype(dtype)
    wy = _sample_weights(xp, box[:, 1], bin_h, gh, max(gmax_h, 1), ph, h, dtype)
    wx = _sample_weights(xp, box[:, 0], bin_w, gw, max(gmax_w, 1), pw, w, dtype)
    return wy / count[:, None, None], wx, rois[:, 0].astype(_np.int64)


@defop("roi_align")
class _roi_align:
    """Bilinear ROI Align: linear in the feature map, so its gradient is the adjoint
    (``roi_align_adjoint``) of the same sampling weights."""
    def forward(xp, data, rois, pooled_size, spatial_scale, sample_ratio, position_sensitive,
                aligned):
        wy, wx, bidx = _align_weights(xp, rois, data.shape, pooled_size, spatial_scale,
                                      sample_ratio, aligned)
        feats = data[bidx]  # (R, C, H, W)
        r, c, h, w = feats.shape
        ph, pw = pooled_size
        if not position_sensitive:
            t = xp.matmul(feats, xp.swapaxes(wx, 1, 2)[:, None])  # (R, C, H, PW)
            return xp.matmul(wy[:, None], t).astype(data.dtype, copy=False)
        f = feats.reshape(r, c // (ph * pw), ph, pw, h, w)
        t = (f * wx[:, None, None, :, None, :]).sum(axis=5)  # (R, C', PH, PW, H)
        return (t * wy[:, None, :, None, :]).sum(axis=4).astype(data.dtype, copy=False)

    def backward(ctx, g):
        data, rois = ctx.inputs[:2]
        return (ctx.call(_roi_align_adjoint, g, rois, shape=data.shape, **ctx.params),
                ctx.xp.zeros_like(rois) if ctx.need[1] else None)


@defop("roi_align_adjoint")
class _roi_align_adjoint:
    def forward(xp, g, rois, shape, pooled_size, spatial_scale, sample_ratio,
                position_sensitive, aligned):
        wy, wx, bidx = _align_weights(xp, rois, shape, pooled_size, spatial_scale,
                                      sample_ratio, aligned)
        nb, c, h, w = shape
        r = g.shape[0]
        if not position_sensitive:
            gf = xp.matmul(xp.matmul(xp.swapaxes(wy, 1, 2)[:, None], g), wx[:, None])
        else:
            gf = (g[..., None, None] * wy[:, None, :, None, :, None]
                  * wx[:, None, None, :, None, :]).reshape(r, c, h, w)
        gx = xp.zeros(shape, dtype=g.dtype)
        add_at(xp, gx, bidx, gf.astype(g.dtype, copy=False))
        return gx

    def backward(ctx, gz):
        p = dict(ctx.params)
        p.pop("shape")
        return ctx.call(_roi_align, gz, ctx.inputs[1], **p), None


def roi_align(data, rois, pooled_size=None, spatial_scale=None, sample_ratio=-1,
              position_sensitive=False, aligned=False):
    """ROI Align (MXNet ``npx.roi_align``, Mask R-CNN): each roi ``[batch_index, x1, y1,
    x2, y2]`` times spatial_scale (less 0.5 with ``aligned``, Detectron2's center-aligned
    form; otherwise at least 1 x 1) split into pooled_size (h, w) bins, each the average of
    sample_ratio^2 (adaptive: ceil(roi size / pooled size) per axis) bilinear samples.
    Output (num_rois, C, h, w), or C / (h * w) channels with position_sensitive; the
    gradient w.r.t. data is the sampling's adjoint, rois get a zero gradient."""
    if pooled_size is None or spatial_scale is None:
        raise TypeError("roi_align: pooled_size and spatial_scale are required (MXNet)")
    data, rois = _roi_inputs("roi_align", data, rois)
    pooled_size = _pair("roi_align", pooled_size)
    if position_sensitive and data.shape[1] % (pooled_size[0] * pooled_size[1]):
        raise ShapeError(f"roi_align: with position_sensitive the channels of data (shape "
                         f"{data.shape}) must divide by pooled_size[0] * pooled_size[1] = "
                         f"{pooled_size[0] * pooled_size[1]}")
    return apply(_roi_align, (data, rois), {
        "pooled_size": pooled_size, "spatial_scale": float(spatial_scale),
        "sample_ratio": int(sample_ratio), "position_sensitive": bool(position_sensitive),
        "aligned": bool(aligned)})
