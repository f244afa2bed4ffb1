"""MXNet 2.x behaviour of gluon.utils.download (through ``requests``) and Block.save/load."""
import io
import json
import warnings
from unittest import mock

import numpy as onp
import pytest

requests = pytest.importorskip("requests")

import mxlite as mx  # noqa: E402
from mxlite import gluon  # noqa: E402


def _response(status, body):
    r = requests.Response()
    r.status_code = status
    r.raw = io.BytesIO(body)
    return r


def test_download_goes_through_requests_and_warns_when_unverified(tmp_path):
    get = mock.Mock(side_effect=lambda *a, **k: _response(200, b"MOCK" * 300))
    with mock.patch("requests.get", get), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = gluon.utils.download("https://example.invalid/a/README.md", path=str(tmp_path),
                                   verify_ssl=False)
    assert open(got, "rb").read() == b"MOCK" * 300
    assert got == str(tmp_path / "README.md") and get.call_args.kwargs["verify"] is False
    assert any(str(w.message).startswith("Unverified HTTPS request") for w in caught)
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_download_retries_a_bad_status_then_fails_without_partials(tmp_path):
    get = mock.Mock(side_effect=lambda *a, **k: _response(404, b"nope"))
    with mock.patch("requests.get", get), \
            pytest.raises(RuntimeError, match="after 2 attempt.*HTTP 404.*copy the file"):
        gluon.utils.download("http://example.invalid/w.bin", path=str(tmp_path), retries=2)
    assert get.call_count == 2 and list(tmp_path.iterdir()) == []


class _Chain(gluon.Block):
    def __init__(self, *blocks):
        super().__init__()
        for b in blocks:
            self.register_child(b)

    def forward(self, x):
        for b in self._children.values():
            x = b(x)
        return x


def _net():
    return _Chain(_Chain(gluon.nn.Dense(10)), gluon.nn.Dense(4))


def test_save_load_round_trip_restores_values_and_hybridization(tmp_path):
    net = _net()
    net.initialize()
    net.hybridize(static_alloc=True)
    x = mx.np.array(onp.random.RandomState(0).rand(2, 10))
    want = net(x).asnumpy()
    prefix = str(tmp_path / "m")
    net.save(prefix)
    record = json.load(open(prefix + "-model.json"))
    assert record["children"]["1"] == {"class": "Dense", "params": ["weight", "bias"],
                                       "hybridized": True, "children": {},
                                       "options": {"static_alloc": True, "static_shape": False,
                                                   "dce": True, "cse": True, "fuse": True}}
    other = _net()
    other.load(prefix)
    assert other._children["1"]._active and other._children["1"]._cached_graph.static_alloc
    assert other._children["1"].weight.shape == (4, 10)
    onp.testing.assert_allclose(other(x).asnumpy(), want, rtol=1e-6)


def test_load_into_a_differently_built_model_says_what_differs(tmp_path):
    net = _net()
    net.initialize()
    net(mx.np.ones((1, 10)))
    net.save(str(tmp_path / "m"))
    wrong = _Chain(_Chain(gluon.nn.Dense(10)), gluon.nn.Conv2D(4, 1))
    with pytest.raises(ValueError, match=r"model\.1 .* has class 'Dense', this model has "
                                         r"'Conv2D'; build the model the same way"):
        wrong.load(str(tmp_path / "m"))
