"""`make bench` in miniature: `python -m oracle.bench --quick` starts its own anvil and nodes, and
writes both reports with every headline key present and positive."""

import json
import subprocess
import sys

import pytest

from oracle.localnet import ANVIL, REPO

KEYS = (
    "jobs_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "anvil_transfers_per_s",
    "overhead_ratio_1s",
)


@pytest.mark.skipif(not ANVIL.exists(), reason="anvil is not installed (make setup)")
def test_bench_quick_writes_reports(tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oracle.bench",
            "--quick",
            "--json",
            str(out_json),
            "--md",
            str(out_md),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    res = json.loads(out_json.read_text())
    for key in KEYS:
        assert isinstance(res[key], int | float) and res[key] > 0, (key, res.get(key))
    assert set(res["scaling"]) == {"1", "2", "4"}
    for entry in res["scaling"].values():
        assert entry["jobs_per_s"] > 0 and entry["efficiency"] > 0
    assert res["scaling"]["1"]["efficiency"] == 1.0
    for mode in ("with", "without"):
        assert res["batching"][mode]["paid_per_s"] > 0
    assert (
        res["batching"]["with"]["batch_size"] > 1 and res["batching"]["without"]["batch_size"] == 1
    )
    assert "gas" in res
    # every job of every network phase paid once (the bench raises otherwise) and its result
    # fetched from its node and verified against the chain (k = 1: the salted commitment)
    for phase in (res["e2e"]["batched"], res["e2e"]["unbatched"], res["overhead"]["network"]):
        assert phase["verified"] == phase["jobs"] > 0
    assert res["machine"]["nproc"] >= 1 and res["machine"]["cpu_model"]

    md = out_md.read_text()
    assert "python -m oracle.bench --quick" in md and "CPU model" in md and "anvil" in md
