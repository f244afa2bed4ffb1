"""mx.profiler: the Chrome trace written by dump() loads back with its op events (forward and
_backward_ names, shapes, dtype, device), scopes that contain their ops in time, counter tracks
with profile_memory, process/thread names; dumps' aggregates match the records."""
import json

import pytest

import mxlite as mx
from mxlite import autograd, profiler
from mxlite.autograd import op as dispatch


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "run" / "profile.json"
    profiler.set_config(profile_all=True, aggregate_stats=True, filename=str(path))
    profiler.set_state("run")
    x = mx.np.ones((3, 4))
    x.attach_grad()
    with profiler.scope("outer:"):
        with profiler.scope("inner"):
            with autograd.record():
                y = (mx.np.tanh(x) * 2).sum()
        y.backward()
    profiler.pause()
    mx.np.exp(x)  # not recorded while paused
    profiler.resume()
    profiler.set_state("stop")
    table = profiler.dumps(format="json")
    text = profiler.dumps()
    assert profiler.dump() == str(path)
    profiler.set_config(**{k: v for k, v in profiler._DEFAULTS.items()})
    return json.loads(path.read_text())["traceEvents"], json.loads(table), text


def test_ops_forward_and_backward(trace):
    events, _, _ = trace
    ops = [e for e in events if e["ph"] == "X" and e["cat"] == "operator"]
    names = [e["name"] for e in ops]
    assert names == ["tanh", "multiply", "sum", "_backward_sum", "_backward_multiply",
                     "_backward_tanh"]
    tanh = ops[0]
    assert tanh["args"]["shapes"] == [[3, 4]] and tanh["args"]["dtype"] == "float32"
    assert tanh["args"]["device"] == "cpu(0)" and tanh["dur"] >= 0


def test_scopes_contain_their_ops(trace):
    events, _, _ = trace
    spans = {e["name"]: e for e in events if e["ph"] == "X" and e["cat"] == "scope"}
    assert set(spans) == {"outer:", "outer:inner"}
    outer, inner = spans["outer:"], spans["outer:inner"]

    def within(e, s):
        return s["ts"] <= e["ts"] and e["ts"] + e["dur"] <= s["ts"] + s["dur"]

    assert within(inner, outer)
    ops = [e for e in events if e.get("cat") == "operator"]
    for e in ops[:3]:
        assert within(e, inner) and e["args"]["scope"] == "outer:inner"
    for e in ops[3:]:
        assert within(e, outer) and not within(e, inner) and e["args"]["scope"] == "outer:"


def test_counters_and_metadata(trace):
    events, _, _ = trace
    counters = {e["name"] for e in events if e["ph"] == "C"}
    assert {"op outputs cpu(0)", "memory cpu(0)", "pool cpu(0)"} <= counters
    outputs = [e["args"]["bytes_allocated"] for e in events if e["name"] == "op outputs cpu(0)"]
    assert outputs[0] == 3 * 4 * 4 and outputs == sorted(outputs)
    meta = {e["name"] for e in events if e["ph"] == "M"}
    assert meta == {"process_name", "thread_name"}


def test_aggregate_matches_records(trace):
    events, table, text = trace
    stats = table["Time"]["operator"]
    ops = [e for e in events if e.get("cat") == "operator"]
    assert sum(s["Count"] for s in stats.values()) == len(ops) == 6
    assert stats["tanh"]["Count"] == 1
    assert stats["tanh"]["Min"] <= stats["tanh"]["Avg"] <= stats["tanh"]["Max"]
    assert "_backward_tanh" in text and "Total Count" in text


def test_off_leaves_dispatch_unhooked_and_rejects_bad_options():
    assert profiler.state() == "stop"
    assert dispatch._profile is None and dispatch.profile_backward is None
    with pytest.raises(ValueError, match="profile_al"):
        profiler.set_config(profile_al=True)
    with pytest.raises(ValueError, match="sort_by"):
        profiler.dumps(sort_by="median")


def test_user_tasks_counters_markers(tmp_path):
    path = tmp_path / "p.json"
    profiler.set_config(filename=str(path))
    profiler.set_state("run")
    domain = profiler.Domain("train")
    with domain.new_task("epoch"):
        counter = domain.new_counter("batches", 0)
        counter += 2
        domain.new_marker("checkpoint").mark()
    profiler.set_state("stop")
    events = json.loads(open(profiler.dump()).read())["traceEvents"]
    assert any(e["name"] == "epoch" and e["cat"] == "task:train" for e in events)
    assert [e["args"]["batches"] for e in events if e["name"] == "batches"] == [0, 2]
    assert any(e["name"] == "checkpoint" and e["ph"] == "i" for e in events)
