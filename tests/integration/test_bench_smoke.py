"""`make bench` in miniature: `python -m oracle.localnet.bench --quick` starts its own anvil and nodes, and
writes both reports with every headline key present and positive, and each of the issue's targets
([4/7] 2) measured against its yardstick."""

import json
import subprocess
import sys

import pytest

from oracle.localnet.network import ANVIL, REPO

KEYS = (
    "jobs_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "anvil_transfers_per_s",
    "overhead_ratio_1s",
    # [4/7] 2
    "rpc_per_job",
    "ceiling_jobs_per_s",
    "backend_jobs_per_s",
    "jobs_per_s_3_nodes",
    "jobs_per_s_rpc_50ms",
    "txs_per_job",
)


@pytest.mark.skipif(not ANVIL.exists(), reason="anvil is not installed (make setup)")
def test_bench_quick_writes_reports(tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "BENCHMARKS.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "oracle.localnet.bench",
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
    for phase in (res["e2e"]["multi_node"], res["e2e"]["rpc_latency"]):
        assert phase["verified"] == phase["jobs"] > 0
    assert res["machine"]["nproc"] >= 1 and res["machine"]["cpu_model"]

    # RPC requests per settled job: node and client both made some, and the by-method
    # breakdown adds up to the total
    by_method = res["rpc_per_job_by_method"]
    assert by_method and all(v > 0 for v in by_method.values())
    assert abs(sum(by_method.values()) - res["rpc_per_job"]) < 0.05 * res["rpc_per_job"] + 0.1
    assert res["rpc_per_job_by_side"]["node"] > 0 and res["rpc_per_job_by_side"]["client"] > 0
    assert "eth_sendRawTransaction" in by_method
    # a settled job takes the client's create (with the seat, on a quote), a share of a proof and
    # of a settlement, and a claim when it was posted open
    assert res["txs_per_job"] > 1
    ceiling = res["anvil_transfers_per_s"] / res["txs_per_job"]
    assert abs(res["ceiling_jobs_per_s"] - ceiling) < 0.02 * ceiling + 0.01
    multi, slow = res["e2e"]["multi_node"], res["e2e"]["rpc_latency"]
    assert multi["nodes"] == 3 and len(multi["claims_won_by_node"]) == 3
    # every job was either quoted (created assigned) or claimed by exactly one node
    assert sum(multi["claims_won_by_node"]) + multi["quoted"] == multi["jobs"]
    assert slow["rpc_delay_ms"] == 50 and slow["nodes"] == 1
    assert res["jobs_per_s_3_nodes"] == multi["paid_per_s"]
    assert res["jobs_per_s_rpc_50ms"] == slow["paid_per_s"]
    # each target with its measurement, yardstick and verdict
    t = res["targets"]
    assert set(t) == {"rpc_per_job", "jobs_per_s", "jobs_per_s_3_nodes", "jobs_per_s_rpc_50ms"}
    assert all(isinstance(v["met"], bool) for v in t.values())
    assert t["rpc_per_job"]["met"] == (res["rpc_per_job"] <= 8)
    for key in ("jobs_per_s", "jobs_per_s_3_nodes"):
        y = t[key]
        assert y["yardstick"] == round(min(y["chain_ceiling"], y["backend_ceiling"]), 2)
        assert y["met"] == (y["share"] >= 0.5)
    assert t["jobs_per_s"]["backend_ceiling"] == res["backend_jobs_per_s"]
    # where the time and the cores went: each paid job's stages from the node's log, and the
    # machine's CPU split between the node, anvil, the client (with the bench) and the jobs
    b = res["e2e"]["batched"]
    assert {"executed", "proven", "done"} <= set(b["stage_mean_s"])
    for cpu in (b["cpu"], res["backend"]["one_node"]["cpu"]):
        assert 0 < cpu["busy_share"] <= 1.05 and cpu["busy_cpu_s"] > 0
        assert abs(sum(cpu["cpu_s"].values()) - cpu["busy_cpu_s"]) < 0.05 + 0.02 * len(cpu["cpu_s"])
    assert set(b["cpu"]["cpu_s"]) == {"node", "anvil", "client_and_bench", "jobs_and_rest"}
    assert b["cpu"]["cpu_s"]["node"] > 0 and b["cpu"]["cpu_s"]["client_and_bench"] > 0

    md = out_md.read_text()
    assert "python -m oracle.localnet.bench --quick" in md and "CPU model" in md and "anvil" in md
    assert "## Targets" in md and "by method" in md
    for key in t:
        assert f"`{key}`" in md
