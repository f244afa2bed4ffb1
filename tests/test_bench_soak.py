"""The soak benchmark runs end to end on a short run and its leak check catches growth."""
from bench import soak


def test_short_soak_passes_and_reports_every_interval(capsys):
    assert soak.main(["--steps", "200", "--interval", "50", "--batch", "16"]) == 0
    out = capsys.readouterr().out
    assert "soak passed" in out
    assert [line.split()[0] for line in out.splitlines()[2:6]] == ["50", "100", "150", "200"]


def test_growth_past_tolerance_is_reported():
    base = {"step": 500, "rss": 100 << 20, "reserved": 2 << 20, "raw_allocs": 3}
    row = {"step": 1000, "rss": 140 << 20, "reserved": 3 << 20, "raw_allocs": 4}
    msgs = soak.check(base, row, rss_tol_mib=16, pool_tol_mib=0)
    assert len(msgs) == 3
    assert "RSS grew 40.0 MiB" in msgs[0] and "pool reserved bytes grew 1.00 MiB" in msgs[1]
    assert soak.check(base, dict(base, step=1000), 16, 0) == []


def test_soak_restores_the_pooling_threshold():
    before = soak.host.POOL_MIN_BYTES
    soak.main(["--steps", "2", "--interval", "1", "--batch", "4"])
    assert soak.host.POOL_MIN_BYTES == before
