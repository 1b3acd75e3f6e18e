"""The command line of `python -m oracle.localnet.bench`: sizes, outputs, and the summary line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import oracle.localnet.bench
from oracle.localnet.bench.common import MAX_NODES, Config, log
from oracle.localnet.bench.report import markdown
from oracle.localnet.bench.runs import run


def main(argv: list[str] | None = None) -> int:
    doc = (oracle.localnet.bench.__doc__ or "").split("\n")[0]
    ap = argparse.ArgumentParser(prog="python -m oracle.localnet.bench", description=doc)
    ap.add_argument("--quick", action="store_true", help="tiny N: a smoke test (< 1 min)")
    ap.add_argument("--e2e-jobs", type=int, help="short jobs per end-to-end run (default 200)")
    ap.add_argument(
        "--overhead-jobs", type=int, help="1-second jobs for the overhead ratio (default 40)"
    )
    ap.add_argument("--scaling-jobs", type=int, help="CPU-bound jobs for scaling (default 12)")
    ap.add_argument(
        "--scaling-job-s", type=float, help="seconds one CPU-bound job takes (default 1)"
    )
    ap.add_argument(
        "--transfers", type=int, help="plain transfers per ceiling measurement (default 300)"
    )
    ap.add_argument(
        "--nodes",
        type=int,
        choices=range(1, MAX_NODES + 1),
        help="node processes of the one-node runs (default 1)",
    )
    ap.add_argument("--multi-jobs", type=int, help="short jobs of the three-node run (default 200)")
    ap.add_argument(
        "--latency-jobs", type=int, help="short jobs of the run with +50 ms RPC (default 200)"
    )
    ap.add_argument(
        "--workers", type=int, help="workers per node and for the direct run (default 2)"
    )
    ap.add_argument(
        "--batch-size", type=int, help="proof batch size of the batched run (default 20)"
    )
    ap.add_argument("--json", type=Path, help="output JSON (default docs/bench.json)")
    ap.add_argument("--md", type=Path, help="output Markdown (default docs/BENCHMARKS.md)")
    ap.add_argument(
        "--keep", action="store_true", help="keep the work directory (node logs, databases)"
    )
    a = ap.parse_args(argv)
    overrides = {
        k: v
        for k, v in {
            "e2e_jobs": a.e2e_jobs,
            "overhead_jobs": a.overhead_jobs,
            "scaling_jobs": a.scaling_jobs,
            "scaling_job_s": a.scaling_job_s,
            "transfers": a.transfers,
            "nodes": a.nodes,
            "multi_jobs": a.multi_jobs,
            "latency_jobs": a.latency_jobs,
            "workers": a.workers,
            "batch_size": a.batch_size,
            "json_path": a.json,
            "md_path": a.md,
            "keep": a.keep or None,
        }.items()
        if v is not None
    }
    cfg = Config.quick_config() if a.quick else Config()
    cfg = dataclasses.replace(cfg, **overrides)
    res = run(cfg)
    command = (
        "python -m oracle.localnet.bench"
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    if command == "python -m oracle.localnet.bench":
        command = "make bench"
    res["command"] = command
    cfg.json_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.json_path.write_text(json.dumps(res, indent=2) + "\n")
    cfg.md_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.md_path.write_text(markdown(res, command))
    t = res["targets"]
    log(
        f"jobs/s {res['jobs_per_s']} (3 nodes {res['jobs_per_s_3_nodes']}, +{cfg.rpc_delay_ms:g} ms RPC"
        f" {res['jobs_per_s_rpc_50ms']}), ceilings: chain {res['ceiling_jobs_per_s']}, backend"
        f" {res['backend_jobs_per_s']}; RPC per job {res['rpc_per_job']}; p50 {res['latency_p50_s']} s,"
        f" p95 {res['latency_p95_s']} s, anvil {res['anvil_transfers_per_s']} transfers/s, overhead"
        f" ratio {res['overhead_ratio_1s']}; targets met: "
        + ", ".join(f"{k} {'yes' if v['met'] else 'no'}" for k, v in t.items())
    )
    log(f"wrote {cfg.json_path} and {cfg.md_path} in {res['seconds']:.0f}s")
    return 0
