"""npx detection operators (box_iou, box_nms, bipartite_matching, box_encode/decode,
multibox_prior/target/detection, roi_pooling, roi_align): values against MXNet's own test
expectations and small pure-numpy loop references, gradients against float64 central
differences, shape errors."""
import math

import numpy as np
import pytest

import mxlite as mx
from mxlite.test_utils import check_gradient

mnp, npx = mx.np, mx.npx
RNG = np.random.default_rng(11)


def _arr(x, device, dtype="float64"):
    return mnp.array(np.asarray(x), dtype=dtype, device=device)


def _np(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


# -- references (plain loops) ----------------------------------------------------------------
def _ref_ltrb(b, fmt):
    if fmt == "corner":
        return b
    x, y, w, h = b
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def _ref_area(b, fmt):
    w, h = (b[2] - b[0], b[3] - b[1]) if fmt == "corner" else (b[2], b[3])
    return 0.0 if w < 0 or h < 0 else w * h


def _ref_iou(a, b, fmt="corner"):
    al, at, ar, ab = _ref_ltrb(a, fmt)
    bl, bt, br, bb = _ref_ltrb(b, fmt)
    inter = max(0.0, min(ar, br) - max(al, bl)) * max(0.0, min(ab, bb) - max(at, bt))
    if inter <= 0:
        return 0.0
    return inter / (_ref_area(a, fmt) + _ref_area(b, fmt) - inter)


def _ref_nms(data, thresh, valid, topk, cs, si, cid, bg, force, fin, fout):
    shape = data.shape
    x = data.reshape(-1, shape[-2], shape[-1])
    out = -np.ones_like(x)
    for b in range(x.shape[0]):
        rows = [i for i in range(x.shape[1]) if x[b, i, si] > valid
                and (cid < 0 or x[b, i, cid] != bg)]
        rows.sort(key=lambda i: -x[b, i, si])  # stable
        rows = rows[:topk] if topk >= 0 else rows
        kept = []
        for i in rows:
            ok = True
            for j in kept:
                if (force or cid < 0 or int(x[b, i, cid]) == int(x[b, j, cid])) and \
                        _ref_iou(x[b, j, cs:cs + 4], x[b, i, cs:cs + 4], fin) > thresh:
                    ok = False
                    break
            if ok:
                kept.append(i)
        for n, i in enumerate(kept):
            out[b, n] = x[b, i]
            if fin != fout:
                c = x[b, i, cs:cs + 4]
                if fout == "center":
                    out[b, n, cs:cs + 4] = [(c[0] + c[2]) / 2, (c[1] + c[3]) / 2,
                                            c[2] - c[0], c[3] - c[1]]
                else:
                    out[b, n, cs:cs + 4] = [c[0] - c[2] / 2, c[1] - c[3] / 2,
                                            c[0] + c[2] / 2, c[1] + c[3] / 2]
    return out.reshape(shape)


def _ref_bipartite(s, threshold, is_ascend, topk):
    n, m = s.shape
    order = sorted(range(n * m), key=lambda f: s.flat[f] if is_ascend else -s.flat[f])
    row, col, count = -np.ones(n), -np.ones(m), 0
    for f in order:
        r, c = divmod(f, m)
        if row[r] == -1 and col[c] == -1:
            if (s.flat[f] < threshold) if is_ascend else (s.flat[f] > threshold):
                row[r], col[c] = c, r
                count += 1
                if topk > 0 and count >= topk:
                    break
            else:
                break
    return row, col


def _ref_bilinear(img, y, x):
    h, w = img.shape
    if y < -1 or y > h or x < -1 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yl = yh = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xl = xh = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * img[yl, xl] + (1 - ly) * lx * img[yl, xh]
            + ly * (1 - lx) * img[yh, xl] + ly * lx * img[yh, xh])


def _ref_roi_align(data, rois, ps, scale, ratio, sensitive, aligned):
    ph, pw = ps
    c = data.shape[1] // (ph * pw) if sensitive else data.shape[1]
    out = np.zeros((len(rois), c, ph, pw))
    off = 0.5 if aligned else 0.0
    for r, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (v * scale - off for v in roi[1:])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for ch in range(c):
            for p in range(ph):
                for q in range(pw):
                    src = ch * ph * pw + p * pw + q if sensitive else ch
                    acc = 0.0
                    for iy in range(gh):
                        y = y1 + p * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            x = x1 + q * bw + (ix + 0.5) * bw / gw
                            acc += _ref_bilinear(data[b, src], y, x)
                    out[r, ch, p, q] = acc / count
    return out


def _ref_roi_pool(data, rois, ps, scale):
    ph, pw = ps
    _, c, h, w = data.shape
    out = np.zeros((len(rois), c, ph, pw))
    rnd = lambda v: int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))
    for r, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (rnd(v * scale) for v in roi[1:])
        bh, bw = max(y2 - y1 + 1, 1) / ph, max(x2 - x1 + 1, 1) / pw
        for p in range(ph):
            hs = min(max(math.floor(p * bh) + y1, 0), h)
            he = min(max(math.ceil((p + 1) * bh) + y1, 0), h)
            for q in range(pw):
                ws = min(max(math.floor(q * bw) + x1, 0), w)
                we = min(max(math.ceil((q + 1) * bw) + x1, 0), w)
                if he > hs and we > ws:
                    out[r, :, p, q] = data[b, :, hs:he, ws:we].max(axis=(1, 2))
    return out


# -- box_iou ---------------------------------------------------------------------------------
def test_box_iou_doc_example(device):
    x = _arr([[0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]], device, "float32")
    y = _arr([[0.25, 0.25, 0.75, 0.75]], device, "float32")
    got = npx.box_iou(x, y, format="corner")
    assert got.shape == (2, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got.asnumpy(), [[1 / 7], [1 / 7]], rtol=1e-6)


@pytest.mark.parametrize("fmt", ["corner", "center"])
def test_box_iou_against_loops(fmt, device):
    xy = RNG.uniform(0, 10, (2, 3, 2))
    wh = RNG.uniform(1, 6, (2, 3, 2))
    a = np.concatenate([xy, xy + wh], -1) if fmt == "corner" else np.concatenate([xy, wh], -1)
    b = a[1, :2] + 0.7
    got = npx.box_iou(_arr(a, device), _arr(b, device), format=fmt).asnumpy()
    assert got.shape == (2, 3, 2)
    want = np.array([[[_ref_iou(a[i, j], b[k], fmt) for k in range(2)] for j in range(3)]
                     for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert (got > 0).any()


def test_box_iou_zero_gradient(device):
    a, b = _arr([[0, 0, 2, 2]], device), _arr([[1, 1, 3, 3]], device)
    a.attach_grad(), b.attach_grad()
    with mx.autograd.record():
        y = npx.box_iou(a, b)
    y.backward()
    assert not a.grad.asnumpy().any() and not b.grad.asnumpy().any()


# -- box_nms ---------------------------------------------------------------------------------
BOXES = [[0, 0.5, 0.1, 0.1, 0.2, 0.2], [1, 0.4, 0.1, 0.1, 0.2, 0.2],
         [0, 0.3, 0.1, 0.1, 0.14, 0.14], [2, 0.6, 0.5, 0.5, 0.7, 0.8]]


def _nms_grad(data, device, g, **kw):
    x = _arr(data, device)
    x.attach_grad()
    with mx.autograd.record():
        y = npx.box_nms(x, **kw)
    y.backward(_arr(g, device))
    return y.asnumpy(), x.grad.asnumpy()


def test_box_nms_mxnet_cases(device):
    """MXNet's test_box_nms_op cases 1, 3, 4, 7, 8 (values and gradients)."""
    g = RNG.random((4, 6))
    out, grad = _nms_grad(BOXES, device, g, overlap_thresh=0.5, force_suppress=True,
                          id_index=0)
    np.testing.assert_allclose(out, [[2, 0.6, 0.5, 0.5, 0.7, 0.8], [0, 0.5, 0.1, 0.1, 0.2, 0.2],
                                     [0, 0.3, 0.1, 0.1, 0.14, 0.14], [-1] * 6])
    want = g[(1, 3, 2, 0), :]
    want[1] = 0
    np.testing.assert_allclose(grad, want)
    # multi-batch, an extra batch axis
    out2, grad2 = _nms_grad([[BOXES] * 3] * 2, device, np.broadcast_to(g, (2, 3, 4, 6)),
                            overlap_thresh=0.5, force_suppress=True, id_index=0)
    np.testing.assert_allclose(out2, np.broadcast_to(out, (2, 3, 4, 6)))
    np.testing.assert_allclose(grad2, np.broadcast_to(want, (2, 3, 4, 6)))
    out3, grad3 = _nms_grad(BOXES, device, g, overlap_thresh=0.1, force_suppress=True,
                            id_index=0)
    np.testing.assert_allclose(out3[2:], -1)
    want3 = g[(1, 3, 2, 0), :]
    want3[(1, 2), :] = 0
    np.testing.assert_allclose(grad3, want3)
    out4, grad4 = _nms_grad(BOXES, device, g, overlap_thresh=0.1, force_suppress=False,
                            id_index=0)
    np.testing.assert_allclose(out4[2], [1, 0.4, 0.1, 0.1, 0.2, 0.2])
    want4 = g[(1, 2, 3, 0), :]
    want4[2] = 0
    np.testing.assert_allclose(grad4, want4)
    # no id: force suppression
    out7 = npx.box_nms(_arr(BOXES, device), overlap_thresh=0.5, id_index=-1).asnumpy()
    np.testing.assert_allclose(out7, out)
    boxes8 = [[[c, 1, 0, 0, 10, 10], [c, 0.4, 0, 0, 10, 10], [c, 0.3, 0, 0, 10, 10]]
              for c in (1, 2, 3)]
    g8 = RNG.random((3, 3, 6))
    out8, grad8 = _nms_grad(boxes8, device, g8, overlap_thresh=0.5, valid_thresh=0.5, topk=2,
                            id_index=0)
    want8 = -np.ones((3, 3, 6))
    want8[:, 0] = np.array(boxes8)[:, 0]
    np.testing.assert_allclose(out8, want8)
    wg = np.zeros((3, 3, 6))
    wg[:, 0] = g8[:, 0]
    np.testing.assert_allclose(grad8, wg)


@pytest.mark.parametrize("fin,fout", [("corner", "corner"), ("corner", "center"),
                                      ("center", "corner"), ("center", "center")])
def test_box_nms_against_loops(fin, fout, device):
    n = 12
    xy = RNG.uniform(0, 4, (2, n, 2))
    wh = RNG.uniform(1, 3, (2, n, 2))
    coords = np.concatenate([xy, xy + wh], -1) if fin == "corner" else np.concatenate([xy, wh], -1)
    scores = RNG.permutation(2 * n).reshape(2, n) / (2 * n) + 0.01
    scores[0, 3] = scores[0, 5]  # a tie keeps input order
    ids = RNG.integers(0, 3, (2, n))
    # layout [coords, id, extra, score] exercises coord_start / id_index / score_index
    data = np.concatenate([coords, ids[..., None], RNG.random((2, n, 1)), scores[..., None]], -1)
    for kw in ({"topk": -1, "id_index": -1, "force_suppress": False, "background_id": -1},
               {"topk": 7, "id_index": 4, "force_suppress": False, "background_id": 2},
               {"topk": 9, "id_index": 4, "force_suppress": True, "background_id": -1}):
        got = npx.box_nms(_arr(data, device), overlap_thresh=0.3, valid_thresh=0.2,
                          coord_start=0, score_index=6, in_format=fin, out_format=fout,
                          **kw).asnumpy()
        want = _ref_nms(data, 0.3, 0.2, kw["topk"], 0, 6, kw["id_index"], kw["background_id"],
                        kw["force_suppress"], fin, fout)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert (got[:, 0, 6] > 0.2).all() and (got == -1).all(axis=-1).any()


@pytest.mark.parametrize("fin,fout", [("corner", "center"), ("center", "corner")])
def test_box_nms_gradient(fin, fout, device):
    """The gradient through kept rows, including the format conversion's Jacobian."""
    data = np.array([[0, 0.9, 0.0, 0.0, 2.0, 2.1], [0, 0.8, 0.1, 0.1, 2.0, 2.0],
                     [1, 0.7, 3.0, 3.0, 4.0, 4.5], [1, 0.1, 0, 0, 1, 1]])
    if fin == "center":
        data[:, 4:] = data[:, 4:] - data[:, 2:4]
    check_gradient(lambda x: npx.box_nms(x, overlap_thresh=0.5, valid_thresh=0.2,
                                         in_format=fin, out_format=fout), data,
                   device=device)


def test_box_nms_topk_zero_is_identity(device):
    x = _arr(BOXES, device)
    np.testing.assert_array_equal(npx.box_nms(x, topk=0).asnumpy(), np.array(BOXES))


# -- bipartite_matching ----------------------------------------------------------------------
def test_bipartite_matching_mxnet_cases(device):
    s = _arr([[0.5, 0.6], [0.1, 0.2], [0.3, 0.4]], device, "float32")
    a, b = npx.bipartite_matching(s, threshold=1e-12, is_ascend=False)
    assert a.dtype == np.float32 and a.shape == (3,) and b.shape == (2,)
    np.testing.assert_array_equal(a.asnumpy(), [1, -1, 0])
    np.testing.assert_array_equal(b.asnumpy(), [2, 0])
    a, b = npx.bipartite_matching(s, threshold=100, is_ascend=True)
    np.testing.assert_array_equal(a.asnumpy(), [-1, 0, 1])
    np.testing.assert_array_equal(b.asnumpy(), [1, 2])


@pytest.mark.parametrize("is_ascend,threshold,topk", [(False, 0.3, -1), (True, 0.6, -1),
                                                      (False, 0.0, 2)])
def test_bipartite_matching_against_loops(is_ascend, threshold, topk, device):
    s = RNG.random((2, 3, 5, 4))
    s[0, 0, 1, 2] = s[0, 0, 3, 1]  # a tie: the lower flat index first
    a, b = npx.bipartite_matching(_arr(s, device), threshold=threshold, is_ascend=is_ascend,
                                  topk=topk)
    assert a.shape == (2, 3, 5) and b.shape == (2, 3, 4)
    for i in np.ndindex(2, 3):
        ra, rb = _ref_bipartite(s[i], threshold, is_ascend, topk)
        np.testing.assert_array_equal(a.asnumpy()[i], ra)
        np.testing.assert_array_equal(b.asnumpy()[i], rb)


# -- box_encode / box_decode -----------------------------------------------------------------
def _corner_boxes(shape):
    xy = RNG.uniform(0, 5, shape + (2,))
    return np.concatenate([xy, xy + RNG.uniform(0.5, 3, shape + (2,))], -1)


def test_box_encode_against_formula(device):
    anchors, refs = _corner_boxes((2, 5)), _corner_boxes((2, 3))
    samples = np.array([[1, 0, -1, 1, 1], [0, 1, 1, -1, 1]], dtype=float)
    matches = RNG.integers(0, 3, (2, 5)).astype(float)
    means, stds = np.array([0.1, -0.1, 0.0, 0.2]), np.array([0.1, 0.1, 0.2, 0.2])
    t, m = npx.box_encode(*(_arr(v, device) for v in (samples, matches, anchors, refs, means,
                                                     stds)))
    assert t.shape == m.shape == (2, 5, 4)
    want = np.zeros((2, 5, 4))
    for b, n in np.ndindex(2, 5):
        if samples[b, n] > 0.5:
            a, g = anchors[b, n], refs[b, int(matches[b, n])]
            aw, ah, gw, gh = a[2] - a[0], a[3] - a[1], g[2] - g[0], g[3] - g[1]
            raw = [((g[0] + gw / 2) - (a[0] + aw / 2)) / aw,
                   ((g[1] + gh / 2) - (a[1] + ah / 2)) / ah, np.log(gw / aw), np.log(gh / ah)]
            want[b, n] = (np.array(raw) - means) / stds
    np.testing.assert_allclose(t.asnumpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m.asnumpy(), np.repeat((samples > 0.5)[..., None], 4, -1))


@pytest.mark.parametrize("fmt,clip", [("corner", -1.0), ("center", 0.3)])
def test_box_decode_against_formula(fmt, clip, device):
    d = RNG.normal(0, 0.5, (2, 4, 4))
    anc = _corner_boxes((1, 4))
    if fmt == "center":
        anc = np.concatenate([(anc[..., :2] + anc[..., 2:]) / 2, anc[..., 2:] - anc[..., :2]], -1)
    stds = (0.1, 0.2, 0.3, 0.4)
    got = npx.box_decode(_arr(d, device), _arr(anc, device), *stds, clip=clip,
                         format=fmt).asnumpy()
    if fmt == "corner":
        aw, ah = anc[..., 2] - anc[..., 0], anc[..., 3] - anc[..., 1]
        ax, ay = anc[..., 0] + aw / 2, anc[..., 1] + ah / 2
    else:
        ax, ay, aw, ah = (anc[..., j] for j in range(4))
    dw, dh = d[..., 2] * stds[2], d[..., 3] * stds[3]
    if clip > 0:
        dw, dh = np.minimum(dw, clip), np.minimum(dh, clip)
    ox, oy = d[..., 0] * stds[0] * aw + ax, d[..., 1] * stds[1] * ah + ay
    ow, oh = np.exp(dw) * aw / 2, np.exp(dh) * ah / 2
    np.testing.assert_allclose(got, np.stack([ox - ow, oy - oh, ox + ow, oy + oh], -1),
                               rtol=1e-12)


# -- multibox_prior --------------------------------------------------------------------------
@pytest.mark.parametrize("clip,steps", [(False, (-1.0, -1.0)), (True, (0.3, 0.2))])
def test_multibox_prior_against_loops(clip, steps, device):
    h, w = 3, 4
    sizes, ratios, offsets = (0.75, 0.5, 0.25), (1, 2, 0.5), (0.5, 0.25)
    got = npx.multibox_prior(_arr(np.zeros((2, 3, h, w)), device, "float32"), sizes=sizes,
                             ratios=ratios, clip=clip, steps=steps, offsets=offsets)
    assert got.shape == (1, h * w * 5, 4) and got.dtype == np.float32
    sy, sx = (1 / h, 1 / w) if steps[0] <= 0 else steps
    want = []
    for r in range(h):
        for c in range(w):
            cy, cx = (r + offsets[0]) * sy, (c + offsets[1]) * sx
            shapes = [(s * h / w / 2, s / 2) for s in sizes]
            shapes += [(sizes[0] * h / w * math.sqrt(q) / 2, sizes[0] / math.sqrt(q) / 2)
                       for q in ratios[1:]]
            want += [[cx - a, cy - b, cx + a, cy + b] for a, b in shapes]
    want = np.array(want)[None]
    if clip:
        want = np.clip(want, 0, 1)
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, atol=1e-6)


# -- multibox_target -------------------------------------------------------------------------
def test_multibox_target_mxnet_case(device):
    anchors = _arr([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]], device,
                   "float32").reshape(1, -1, 4)
    cls_pred = _arr(list(range(10)), device, "float32").reshape(1, -1, 2)
    label = _arr([1, 0.1, 0.1, 0.5, 0.6], device, "float32").reshape(1, -1, 5)
    loc, mask, cls = npx.multibox_target(anchors, label, cls_pred, overlap_threshold=0.5,
                                         negative_mining_ratio=3, negative_mining_thresh=0.4)
    np.testing.assert_allclose(loc.asnumpy(), [[5.0, 2.5000005, 3.4657357, 4.581454, 0, 0, 0, 0]],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(mask.asnumpy(), [[1, 1, 1, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(cls.asnumpy(), [[2, 0]])


def _ref_multibox_target(anchors, labels, cls_pred, thr, ignore, ratio, neg_thr, min_neg, var):
    nb, m = labels.shape[:2]
    n = len(anchors)
    loc, mask, cls = np.zeros((nb, n * 4)), np.zeros((nb, n * 4)), np.full((nb, n), ignore)
    for b in range(nb):
        ng = 0
        while ng < m and labels[b, ng, 0] != -1:
            ng += 1
        if ng == 0:
            continue
        iou = np.array([[_ref_iou(anchors[j], labels[b, k, 1:5]) for k in range(ng)]
                        for j in range(n)])
        flag, match, gt_done = [-1] * n, [-1] * n, [False] * ng
        while not all(gt_done):
            best, bj, bk = 1e-6, -1, -1
            for j in range(n):
                if flag[j] == 1:
                    continue
                for k in range(ng):
                    if not gt_done[k] and iou[j, k] > best:
                        best, bj, bk = iou[j, k], j, k
            if bj < 0:
                break
            flag[bj], match[bj], gt_done[bk] = 1, bk, True
        if thr > 0:
            for j in range(n):
                if flag[j] != 1 and iou[j].max() > thr:
                    flag[j], match[j] = 1, int(iou[j].argmax())
        npos = flag.count(1)
        if ratio > 0:
            nneg = min(max(int(npos * ratio), min_neg), n - npos)
            e = np.exp(cls_pred[b] - cls_pred[b].max(axis=0))
            prob = e[0] / e.sum(axis=0)
            cand = [j for j in range(n) if flag[j] != 1 and iou[j].max() < neg_thr]
            cand.sort(key=lambda j: prob[j])
            for j in cand[:nneg]:
                flag[j] = 0
        else:
            flag = [1 if f == 1 else 0 for f in flag]
        for j in range(n):
            if flag[j] == 1:
                g, a = labels[b, match[j]], anchors[j]
                cls[b, j] = g[0] + 1
                mask[b, 4 * j:4 * j + 4] = 1
                aw, ah, gw, gh = a[2] - a[0], a[3] - a[1], g[3] - g[1], g[4] - g[2]
                loc[b, 4 * j:4 * j + 4] = [
                    ((g[1] + g[3]) / 2 - (a[0] + a[2]) / 2) / aw / var[0],
                    ((g[2] + g[4]) / 2 - (a[1] + a[3]) / 2) / ah / var[1],
                    math.log(gw / aw) / var[2], math.log(gh / ah) / var[3]]
            elif flag[j] == 0:
                cls[b, j] = 0
    return loc, mask, cls


@pytest.mark.parametrize("ratio,min_neg,thr", [(-1.0, 0, 0.5), (2.0, 0, 0.3), (0.5, 6, 0.0)])
def test_multibox_target_against_loops(ratio, min_neg, thr, device):
    n = 24
    anchors = _corner_boxes((n,)) / 8
    labels = -np.ones((3, 4, 5))
    for b, count in enumerate((3, 1, 0)):
        labels[b, :count, 0] = RNG.integers(0, 4, count)
        labels[b, :count, 1:] = _corner_boxes((count,)) / 8
    cls_pred = RNG.normal(size=(3, 5, n))
    var = (0.1, 0.1, 0.2, 0.2)
    got = npx.multibox_target(_arr(anchors[None], device), _arr(labels, device),
                              _arr(cls_pred, device), overlap_threshold=thr,
                              negative_mining_ratio=ratio, negative_mining_thresh=0.4,
                              minimum_negative_samples=min_neg, ignore_label=-2, variances=var)
    want = _ref_multibox_target(anchors, labels, cls_pred, thr, -2, ratio, 0.4, min_neg, var)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w, rtol=1e-10, atol=1e-12)
    assert (want[2] > 0).any() and (want[2] == 0).any() and (want[2] == -2).any()


# -- multibox_detection ----------------------------------------------------------------------
def test_multibox_detection_d2l_case(device):
    """The anchor-box example of d2l.ai (MXNet edition), whose printed output this is."""
    cls_probs = _arr([[0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]], device, "float32")
    anchors = _arr([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                    [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]], device, "float32")
    out = npx.multibox_detection(cls_probs[None], mnp.zeros((1, 16), device=device),
                                 anchors[None], nms_threshold=0.5)
    want = [[0, 0.9, 0.1, 0.08, 0.52, 0.92], [1, 0.9, 0.55, 0.2, 0.9, 0.88],
            [-1, 0.8, 0.08, 0.2, 0.56, 0.95], [-1, 0.7, 0.15, 0.3, 0.62, 0.91]]
    np.testing.assert_allclose(out.asnumpy()[0], want, rtol=1e-5, atol=1e-6)


def _ref_multibox_detection(cls_prob, loc, anchors, clip, thr, nms_thr, force, var, topk):
    nb, nc, n = cls_prob.shape
    out = -np.ones((nb, n, 6))
    for b in range(nb):
        rows = []
        for i in range(n):
            score, cid = -1.0, 0
            for j in range(1, nc):
                if cls_prob[b, j, i] > score:
                    score, cid = cls_prob[b, j, i], j
            if cid > 0 and score < thr:
                cid = 0
            a, p = anchors[i], loc[b, 4 * i:4 * i + 4]
            aw, ah = a[2] - a[0], a[3] - a[1]
            ox, oy = p[0] * var[0] * aw + (a[0] + a[2]) / 2, p[1] * var[1] * ah + (a[1] + a[3]) / 2
            ow, oh = math.exp(p[2] * var[2]) * aw / 2, math.exp(p[3] * var[3]) * ah / 2
            box = [ox - ow, oy - oh, ox + ow, oy + oh]
            if clip:
                box = [min(max(v, 0.0), 1.0) for v in box]
            if cid > 0:
                rows.append([cid - 1, score] + box)
        if not rows:
            continue
        out[b, :len(rows)] = rows
        if not 0 < nms_thr <= 1:
            continue
        srt = sorted(rows, key=lambda r: -r[1])
        keep = len(srt) if topk <= 0 else min(topk, len(srt))
        out[b, keep:len(rows), 0] = -1
        out[b, :keep] = srt[:keep]
        for i in range(keep):
            if out[b, i, 0] < 0:
                continue
            for j in range(i + 1, keep):
                if out[b, j, 0] >= 0 and (force or out[b, i, 0] == out[b, j, 0]):
                    bi, bj = out[b, i, 2:], out[b, j, 2:]
                    inter = (max(0, min(bi[2], bj[2]) - max(bi[0], bj[0]))
                             * max(0, min(bi[3], bj[3]) - max(bi[1], bj[1])))
                    u = ((bi[2] - bi[0]) * (bi[3] - bi[1]) + (bj[2] - bj[0]) * (bj[3] - bj[1])
                         - inter)
                    if (0 if u <= 0 else inter / u) >= nms_thr:
                        out[b, j, 0] = -1
    return out


@pytest.mark.parametrize("clip,nms_thr,force,topk", [(True, 0.45, False, -1),
                                                     (False, 0.3, True, 5),
                                                     (True, 0.0, False, -1)])
def test_multibox_detection_against_loops(clip, nms_thr, force, topk, device):
    n = 16
    anchors = _corner_boxes((n,)) / 6
    logits = RNG.normal(size=(2, 4, n)) * 2
    cls_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loc = RNG.normal(0, 0.5, (2, n * 4))
    var = (0.1, 0.1, 0.2, 0.2)
    got = npx.multibox_detection(_arr(cls_prob, device), _arr(loc, device),
                                 _arr(anchors[None], device), clip=clip, threshold=0.2,
                                 nms_threshold=nms_thr, force_suppress=force, variances=var,
                                 nms_topk=topk).asnumpy()
    want = _ref_multibox_detection(cls_prob, loc, anchors, clip, 0.2, nms_thr, force, var,
                                   topk)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# -- roi_pooling -----------------------------------------------------------------------------
def test_roi_pooling_mxnet_doc_example(device):
    x = mnp.arange(48, dtype="float32", device=device).reshape(1, 1, 8, 6)
    y = _arr([[0, 0, 0, 4, 4]], device, "float32")
    np.testing.assert_array_equal(npx.roi_pooling(x, y, pooled_size=(2, 2),
                                                  spatial_scale=1.0).asnumpy(),
                                  [[[[14, 16], [26, 28]]]])
    np.testing.assert_array_equal(npx.roi_pooling(x, y, pooled_size=(2, 2),
                                                  spatial_scale=0.7).asnumpy(),
                                  [[[[7, 9], [19, 21]]]])


def _distinct_map(shape):
    """Values with no ties (and gaps wider than check_gradient's step)."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.01 + RNG.random(shape) * 1e-3


ROIS = [[0, 0, 0, 4, 3], [1, 1.2, 0.4, 6.6, 5.1], [0, 3, 2, 2, 1], [1, -2, -1, 9, 8],
        [0, 5.5, 4.5, 7.9, 7.2]]


@pytest.mark.parametrize("pooled,scale", [((2, 3), 1.0), ((3, 2), 0.6)])
def test_roi_pooling_against_loops_and_gradient(pooled, scale, device):
    data = _distinct_map((2, 2, 6, 7))
    rois = np.array(ROIS)
    got = npx.roi_pooling(_arr(data, device), _arr(rois, device), pooled_size=pooled,
                          spatial_scale=scale)
    np.testing.assert_allclose(got.asnumpy(), _ref_roi_pool(data, rois, pooled, scale))
    check_gradient(lambda x: npx.roi_pooling(x, _arr(rois, device), pooled_size=pooled,
                                             spatial_scale=scale), data, device=device)


def test_roi_pooling_gradient_accumulates_and_zero_for_rois(device):
    data = _distinct_map((1, 2, 4, 4))
    x, r = _arr(data, device), _arr([[0, 0, 0, 3, 3], [0, 0, 0, 3, 3]], device)
    x.attach_grad(), r.attach_grad()
    with mx.autograd.record():
        y = npx.roi_pooling(x, r, pooled_size=(1, 1), spatial_scale=1.0)
    y.backward()
    want = np.zeros_like(data)
    for c in range(2):
        want[0, c][np.unravel_index(data[0, c].argmax(), (4, 4))] = 2  # both rois
    np.testing.assert_array_equal(x.grad.asnumpy(), want)
    assert not r.grad.asnumpy().any()


# -- roi_align -------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio,sensitive,aligned", [(-1, False, False), (2, False, True),
                                                     (1, True, False), (-1, True, True)])
def test_roi_align_against_loops_and_gradient(ratio, sensitive, aligned, device):
    pooled = (2, 2)
    data = RNG.normal(size=(2, 4 if sensitive else 2, 5, 6))
    rois = np.array(ROIS)
    run = lambda x: npx.roi_align(x, _arr(rois, device), pooled_size=pooled,
                                  spatial_scale=0.9, sample_ratio=ratio,
                                  position_sensitive=sensitive, aligned=aligned)
    got = run(_arr(data, device))
    assert got.shape == (5, data.shape[1] // 4 if sensitive else data.shape[1], 2, 2)
    np.testing.assert_allclose(got.asnumpy(), _ref_roi_align(data, rois, pooled, 0.9, ratio,
                                                             sensitive, aligned),
                               rtol=1e-10, atol=1e-12)
    check_gradient(run, data, device=device)


def test_roi_align_float32_and_second_order(device):
    rois = _arr([[0, 0.5, 1.0, 3.5, 4.0], [0, 1.2, 0.3, 4.4, 2.9]], device)
    y = npx.roi_align(_arr(np.ones((1, 2, 5, 5)), device, "float32"),
                      rois.astype("float32"), pooled_size=(2, 2), spatial_scale=1.0)
    assert y.dtype == np.float32
    host = RNG.normal(size=(1, 2, 5, 5))
    w = _arr(RNG.normal(size=(2, 2, 2, 2)), device)
    run = lambda a: npx.roi_align(a, rois, pooled_size=(2, 2), spatial_scale=1.0)
    x = _arr(host, device)
    x.attach_grad()
    with mx.autograd.record():
        (gx,) = mx.autograd.grad(mnp.sum(run(x * x) * w), [x], create_graph=True)
        z = mnp.sum(gx * gx)
    z.backward()
    # gx = 2 x A'w with A'w the adjoint (the first-order gradient of sum(run(x) * w))
    x1 = _arr(host, device)
    x1.attach_grad()
    with mx.autograd.record():
        s = mnp.sum(run(x1) * w)
    s.backward()
    adj = x1.grad.asnumpy()
    np.testing.assert_allclose(gx.asnumpy(), 2 * host * adj, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.asnumpy(), 8 * host * adj ** 2, rtol=1e-10, atol=1e-12)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda d: npx.box_iou(mnp.zeros((3, 5), device=d), mnp.zeros((2, 4), device=d)),
     r"\(3, 5\)"),
    (lambda d: npx.box_nms(mnp.zeros((3, 4), device=d)), r"\(3, 4\)"),
    (lambda d: npx.box_nms(mnp.zeros((3, 5), device=d), id_index=0), r"at least 6"),
    (lambda d: npx.bipartite_matching(mnp.zeros((3,), device=d), threshold=0.1), r"\(3,\)"),
    (lambda d: npx.box_decode(mnp.zeros((1, 3, 4), device=d), mnp.zeros((1, 2, 4), device=d)),
     r"\(1, 2, 4\)"),
    (lambda d: npx.box_encode(mnp.zeros((1, 3), device=d), mnp.zeros((1, 2), device=d),
                              mnp.zeros((1, 3, 4), device=d), mnp.zeros((1, 2, 4), device=d),
                              mnp.zeros(4, device=d), mnp.ones(4, device=d)), r"\(1, 2\)"),
    (lambda d: npx.multibox_prior(mnp.zeros((3, 4, 5), device=d)), r"\(3, 4, 5\)"),
    (lambda d: npx.multibox_target(mnp.zeros((1, 4, 4), device=d), mnp.zeros((1, 2, 5), device=d),
                                   mnp.zeros((1, 3, 5), device=d)), r"\(1, 3, 5\)"),
    (lambda d: npx.multibox_detection(mnp.zeros((1, 3, 4), device=d),
                                      mnp.zeros((1, 12), device=d),
                                      mnp.zeros((1, 4, 4), device=d)), r"\(1, 12\)"),
    (lambda d: npx.roi_pooling(mnp.zeros((1, 2, 4, 4), device=d), mnp.zeros((3, 4), device=d),
                               pooled_size=(2, 2), spatial_scale=1.0), r"\(3, 4\)"),
    (lambda d: npx.roi_align(mnp.zeros((2, 4, 4), device=d), mnp.zeros((3, 5), device=d),
                             pooled_size=(2, 2), spatial_scale=1.0), r"\(2, 4, 4\)"),
    (lambda d: npx.roi_align(mnp.zeros((1, 6, 4, 4), device=d), mnp.zeros((3, 5), device=d),
                             pooled_size=(2, 2), spatial_scale=1.0, position_sensitive=True),
     r"\(1, 6, 4, 4\)"),
])
def test_shape_errors_name_the_shapes(call, match, device):
    with pytest.raises(mx.base.MXNetError, match=match):
        call(device)


def test_names_are_in_npx():
    for name in ("box_iou", "box_nms", "bipartite_matching", "box_encode", "box_decode",
                 "multibox_prior", "multibox_target", "multibox_detection", "roi_pooling",
                 "roi_align"):
        assert callable(getattr(npx, name))
