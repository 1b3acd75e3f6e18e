"""The benchmark's run: every phase in order on one anvil chain, then the runs without a chain,
and the headline keys of docs/bench.json with each target's verdict."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from oracle.localnet.bench.chainwatch import anvil_ceiling
from oracle.localnet.bench.common import (
    CPU_JOB,
    SHORT_DISPUTE_WINDOW,
    SHORT_JOB,
    SHORT_TIME_LIMIT_S,
    SLEEP_JOB,
    TARGET_CEILING_SHARE,
    TARGET_LATENCY_SHARE,
    TARGET_RPC_PER_JOB,
    Config,
    calibrate,
    gas_summary,
    log,
    machine,
    make_jobs,
    r,
    run_direct,
    sandbox_mode,
)
from oracle.localnet.bench.network import Network


def _short(work: Path, tag: str, n: int) -> list:
    """n short jobs whose bundles (and results) differ from every other set's."""
    source = SHORT_JOB.replace("job %s", f"job-{tag} %s")
    return make_jobs(work, f"short-{tag}", source, n, time_limit_s=SHORT_TIME_LIMIT_S)


def run(cfg: Config) -> dict[str, Any]:
    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="tes-bench-"))
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()
        },
    }
    results["sandbox"] = sandbox_mode()
    net = Network(work, cfg)
    try:
        log(
            f"work dir {work}; machine {results['machine']['nproc']} CPUs, load {results['machine']['load_avg_at_start']}"
        )
        net.anvil.start()
        from ape import networks
        from ape.logging import logger

        logger.set_level("WARNING")
        with networks.parse_network_choice(net.anvil.url):
            t = time.monotonic()
            net.setup()
            log(
                f"anvil at {net.anvil.url}; deployed and {net.licences} node licence(s) set up in {time.monotonic() - t:.1f}s"
            )

            log(f"anvil ceiling: {cfg.transfers} plain transfers x 3 ways")
            results["anvil"] = anvil_ceiling(
                net.anvil.url, net.transfer_key, net.transfer_to, cfg.transfers
            )
            log(f"  {results['anvil']}")

            short = make_jobs(
                work, "short-a", SHORT_JOB, cfg.e2e_jobs, time_limit_s=SHORT_TIME_LIMIT_S
            )
            short_b = _short(work, "b", cfg.e2e_jobs)
            short_multi = _short(work, "c", cfg.multi_jobs)
            short_slow = _short(work, "d", cfg.latency_jobs)
            windows = {"disputeWindow": SHORT_DISPUTE_WINDOW}
            e2e: dict[str, Any] = {}
            log(f"end to end: {cfg.e2e_jobs} short jobs, batch size {cfg.batch_size}")
            e2e["batched"] = net.phase(
                "batched", short, batch_size=cfg.batch_size, until="JobPaid", windows=windows
            )
            log(f"  {e2e['batched']}")
            log(f"end to end: {cfg.e2e_jobs} short jobs, batch size 1")
            e2e["unbatched"] = net.phase(
                "unbatched", short_b, batch_size=1, until="JobPaid", windows=windows
            )
            log(f"  {e2e['unbatched']}")
            log(f"end to end: {cfg.multi_jobs} short jobs, {cfg.multi_nodes} nodes")
            e2e["multi_node"] = net.phase(
                "multi",
                short_multi,
                nodes=cfg.multi_nodes,
                batch_size=cfg.batch_size,
                until="JobPaid",
                windows=windows,
            )
            log(f"  {e2e['multi_node']}")
            log(
                f"end to end: {cfg.latency_jobs} short jobs, +{cfg.rpc_delay_ms:g} ms on every RPC round trip"
            )
            e2e["rpc_latency"] = net.phase(
                "latency",
                short_slow,
                batch_size=cfg.batch_size,
                until="JobPaid",
                windows=windows,
                rpc_delay_ms=cfg.rpc_delay_ms,
            )
            log(f"  {e2e['rpc_latency']}")
            results["e2e"] = e2e

            sleepers = make_jobs(work, "sleep", SLEEP_JOB, cfg.overhead_jobs)
            log(
                f"overhead: {cfg.overhead_jobs} one-second jobs through the network ({cfg.workers} workers)"
            )
            through = net.phase(
                "overhead", sleepers, batch_size=cfg.batch_size, until="ResultAccepted", windows={}
            )
            log(f"  {through}")
            log(f"overhead: the same jobs straight on LocalSandboxBackend ({cfg.workers} workers)")
            direct = run_direct(work, sleepers, cfg.workers)
            log(f"  {direct}")
            results["overhead"] = {
                "network": through,
                "direct": direct,
                "ratio": r(through["proven_makespan_s"] / direct["makespan_s"]),
            }
        net.anvil.stop()

        # the end-to-end runs' own jobs straight on the node's backend: the compute ceiling
        multi_workers = cfg.multi_nodes * cfg.workers
        log(
            f"backend: the {cfg.e2e_jobs} short jobs on LocalSandboxBackend ({cfg.workers} workers)"
        )
        backend = {"one_node": run_direct(work, short, cfg.workers)}
        log(f"  {backend['one_node']}")
        log(
            f"backend: the {cfg.multi_jobs} short jobs of the multi-node run ({multi_workers} workers)"
        )
        backend["multi_node"] = run_direct(work, short_multi, multi_workers)
        log(f"  {backend['multi_node']}")
        results["backend"] = backend

        iters = calibrate(cfg.scaling_job_s)
        cpu_jobs = make_jobs(work, "cpu", CPU_JOB, cfg.scaling_jobs, env={"ITERS": str(iters)})
        scaling: dict[str, Any] = {}
        for w in (1, 2, 4):
            log(
                f"scaling: {cfg.scaling_jobs} CPU-bound jobs (~{cfg.scaling_job_s:g}s each) on {w} worker(s)"
            )
            s = run_direct(work, cpu_jobs, w, cpus=float(w))
            scaling[str(w)] = s
            log(f"  {s}")
        base = scaling["1"]["jobs_per_s"]
        for key, entry in scaling.items():
            entry["efficiency"] = r(entry["jobs_per_s"] / (int(key) * base))
            if int(key) > (os.cpu_count() or 1):
                entry["note"] = f"{key} workers on {os.cpu_count()} cores: oversubscribed"
        results["scaling_detail"] = {"iters": iters, "job_s_target": cfg.scaling_job_s}
        results["scaling"] = scaling
    finally:
        for n in net.nodes:
            n.stop()
        net.anvil.stop()
        if cfg.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    b, u = results["e2e"]["batched"], results["e2e"]["unbatched"]
    results.update(
        {
            "jobs_per_s": b["paid_per_s"],
            "latency_p50_s": b["paid_latency_p50_s"],
            "latency_p95_s": b["paid_latency_p95_s"],
            "anvil_transfers_per_s": results["anvil"]["pipelined_per_s"],
            "anvil_transfers_per_s_sequential": results["anvil"]["sequential_node_style_per_s"],
            "overhead_ratio_1s": results["overhead"]["ratio"],
            "batching": {
                "with": {"batch_size": b["batch_size"], **_summary(b)},
                "without": {"batch_size": 1, **_summary(u)},
            },
            "gas": gas_summary(),
        }
    )
    results.update(headline(results))
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = r(time.monotonic() - t_start, 1)
    return results


def _yardstick(phase: dict[str, Any], pipelined: float, backend: float) -> dict[str, Any]:
    """A throughput against the lower of its two ceilings: the chain's (anvil's pipelined
    transactions per second ÷ the transactions a job took) and the backend's."""
    chain = pipelined / phase["txs_per_job"]
    lower = min(chain, backend)
    share = phase["paid_per_s"] / lower
    return {
        "value": phase["paid_per_s"],
        "txs_per_job": phase["txs_per_job"],
        "chain_ceiling": r(chain, 2),
        "backend_ceiling": backend,
        "yardstick": r(lower, 2),
        "yardstick_is": "chain" if chain <= backend else "backend",
        "share": r(share),
        "target_share": TARGET_CEILING_SHARE,
        "met": share >= TARGET_CEILING_SHARE,
    }


def headline(res: dict[str, Any]) -> dict[str, Any]:
    """The issue's keys ([4/7] 2) and a verdict for each target."""
    e2e, backend = res["e2e"], res["backend"]
    b, multi, slow = e2e["batched"], e2e["multi_node"], e2e["rpc_latency"]
    pipelined = res["anvil"]["pipelined_per_s"]
    one = _yardstick(b, pipelined, backend["one_node"]["jobs_per_s"])
    three = _yardstick(multi, pipelined, backend["multi_node"]["jobs_per_s"])
    latency_share = slow["paid_per_s"] / b["paid_per_s"]
    rpc = b["rpc"]
    return {
        "rpc_per_job": rpc["per_job"],
        "rpc_per_job_by_method": rpc["per_job_by_method"],
        "rpc_per_job_by_side": {"node": rpc["node_per_job"], "client": rpc["client_per_job"]},
        "txs_per_job": b["txs_per_job"],
        "ceiling_jobs_per_s": one["chain_ceiling"],
        "backend_jobs_per_s": one["backend_ceiling"],
        "jobs_per_s_3_nodes": multi["paid_per_s"],
        "jobs_per_s_rpc_50ms": slow["paid_per_s"],
        "targets": {
            "rpc_per_job": {
                "value": rpc["per_job"],
                "target_max": TARGET_RPC_PER_JOB,
                "met": rpc["per_job"] <= TARGET_RPC_PER_JOB,
            },
            "jobs_per_s": one,
            "jobs_per_s_3_nodes": three,
            "jobs_per_s_rpc_50ms": {
                "value": slow["paid_per_s"],
                "rpc_delay_ms": slow["rpc_delay_ms"],
                "baseline": b["paid_per_s"],
                "share": r(latency_share),
                "target_share": TARGET_LATENCY_SHARE,
                "met": latency_share >= TARGET_LATENCY_SHARE,
            },
        },
    }


def _summary(p: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "paid_per_s",
        "paid_latency_p50_s",
        "paid_latency_p95_s",
        "proven_per_s",
        "proven_latency_p50_s",
        "proven_latency_p95_s",
        "node_txs_per_job",
        "node_gas_per_job",
    )
    return {k: p[k] for k in keys} | {
        "proof_txs": p["node_txs"].get("proof", 0),
        "proof_gas_per_job": p["gas_per_job_by_kind"].get("proof", 0),
    }
