"""What every part of the benchmark shares: sizes, job sources, the machine, small helpers, and
the runs straight on the node's backend (no chain)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from oracle.localnet.bench.cpu import CpuWindow
from oracle.localnet.network import REPO

E18 = 10**18
PAYMENT = 5 * E18
SHORT_DISPUTE_WINDOW = 1  # s (the smallest a k = 1 job may ask for)
BLOCK_CLOCK_S = 0.5  # the bench mines an empty block this often so chain time moves
POLL_S = 0.2  # node poll interval (TES_POLL_INTERVAL_S)
# A short job declares a 10 s time limit: a node quotes it only if it fits its window behind every
# job it holds, each at its worst case (oracle/node/schedule.Backlog), so the limit sets how deep a
# node may queue them (here deeper than any burst).
SHORT_TIME_LIMIT_S = 10
QUOTE_QUEUE = 256  # the bench's nodes quote this many jobs beyond their workers (TES_QUOTE_QUEUE)
MAX_NODES = 3  # node licences the bench sets up (one owner and one operator key each)

SHORT_JOB = """import os
open(os.path.join(os.environ["TES_OUTPUT_DIR"], "result.txt"), "w").write("job %s\\n" % os.environ["SEED"])
"""
SLEEP_JOB = """import os, time
time.sleep(1)
open(os.path.join(os.environ["TES_OUTPUT_DIR"], "done.txt"), "w").write("slept 1 s, seed %s\\n" % os.environ["SEED"])
"""
CPU_JOB = """import os
n, x = int(os.environ["ITERS"]), int(os.environ["SEED"])
for i in range(n):
    x = (x * 31 + i) % 1000003
open(os.path.join(os.environ["TES_OUTPUT_DIR"], "x.txt"), "w").write("%d\\n" % x)
"""

# The targets ([4/7] 2): what `make bench` reports each measurement against.
TARGET_RPC_PER_JOB = 8  # node + client JSON-RPC requests per settled job, at most
TARGET_CEILING_SHARE = 0.5  # jobs/s at least this share of the lower ceiling
TARGET_LATENCY_SHARE = 0.5  # jobs/s with added RPC latency at least this share of without


@dataclasses.dataclass
class Config:
    e2e_jobs: int = 200
    overhead_jobs: int = 40
    scaling_jobs: int = 12
    scaling_job_s: float = 1.0
    transfers: int = 300
    nodes: int = 1
    workers: int = 2
    batch_size: int = 20
    multi_nodes: int = 3  # node processes of the multi-node run
    multi_jobs: int = 200  # short jobs of the multi-node run
    latency_jobs: int = 200  # short jobs of the run with added RPC latency
    rpc_delay_ms: float = 50.0  # added to every RPC round trip of node and client in that run
    json_path: Path = REPO / "docs" / "bench.json"
    md_path: Path = REPO / "docs" / "BENCHMARKS.md"
    quick: bool = False
    keep: bool = False

    @classmethod
    def quick_config(cls, **kw: Any) -> Config:
        return cls(
            e2e_jobs=2,
            overhead_jobs=2,
            scaling_jobs=2,
            scaling_job_s=0.1,
            transfers=20,
            multi_jobs=3,
            latency_jobs=2,
            quick=True,
            **kw,
        )


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


# ------------------------------------------------------------------------------------ machine
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    anvil = REPO / "node_modules" / ".bin" / "anvil"
    try:
        anvil_v = subprocess.run(
            [str(anvil), "--version"], capture_output=True, text=True, timeout=20
        ).stdout.split("\n")[0]
    except (OSError, subprocess.TimeoutExpired):
        anvil_v = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "anvil": anvil_v.strip(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def sandbox_mode() -> str:
    from oracle.core.errors import OracleError
    from oracle.execute.sandbox import SandboxConfig, ensure_sandbox

    try:
        ensure_sandbox(SandboxConfig.detect())
        return "bubblewrap"
    except OracleError:
        return "unsafe"


def calibrate(target_s: float) -> int:
    """Iterations of CPU_JOB's loop that take about `target_s` here (in this process)."""
    n, x = 300_000, 1
    t0 = time.perf_counter()
    for i in range(n):
        x = (x * 31 + i) % 1000003
    per = (time.perf_counter() - t0) / n
    return max(10_000, int(target_s / per))


def gas_summary() -> dict[str, Any]:
    path = REPO / "docs" / "gas.json"
    if not path.exists():
        return {"note": "docs/gas.json missing: run `make gas`"}
    g = json.loads(path.read_text())
    return {
        k: g[k]
        for k in (
            "k1_single_total",
            "k1_steady_per_job",
            "k3_single_total",
            "proof_batch100_per_job",
            "lifecycle_k1_total",
            "lifecycle_k3_total",
            "proof_relay_per_job",
        )
        if k in g
    } | {"source": "docs/gas.json (make gas, " + g.get("network", "?") + ")"}


# ------------------------------------------------------------------------------------ job sets
def make_jobs(
    work: Path,
    name: str,
    source: str,
    n: int,
    *,
    env: dict[str, str] | None = None,
    time_limit_s: int = 120,
) -> list:
    from oracle.client.package import package

    src = work / "src" / name
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.py").write_text(source)
    out = []
    for i in range(n):
        # a different seed per job: distinct bundles (hashes) and distinct results
        out.append(
            package(
                "command",
                work / "bundles" / name / f"{i}.tar.gz",
                source_dir=src,
                entrypoint=["python3", "main.py"],
                seed=i + 1,
                env=env,
                time_limit_s=time_limit_s,
                memory_mb=256,
                workdir=work / "bundles" / name / f"{i}",
            )
        )
    return out


def run_direct(work: Path, jobs: list, workers: int, cpus: float | None = None) -> dict[str, Any]:
    """Submits every job to a fresh LocalSandboxBackend at once and waits for all of them."""
    from oracle.execute import LocalSandboxBackend
    from oracle.execute.base import Backend

    unsafe = sandbox_mode() == "unsafe"
    out_root = work / "direct-out"
    # gpus=0: skips GPU detection (seconds of imports); these jobs use none
    with LocalSandboxBackend(
        work / "direct", max_workers=workers, cpus=cpus, gpus=0, allow_unsafe=unsafe
    ) as backend:
        specs = [
            dataclasses.replace(
                Backend.spec_of(i, p.directory, p.manifest),
                output_dir=out_root / f"{workers}-{i}-{time.monotonic_ns()}",
            )
            for i, p in enumerate(jobs)
        ]
        cpu = CpuWindow({"bench": [os.getpid()]}).start()  # the rest: the jobs' sandboxes
        t0 = time.monotonic()
        futures = [backend.submit(s) for s in specs]
        done_at: list[float] = []
        for f in futures:
            f.add_done_callback(lambda _f: done_at.append(time.monotonic()))
        results = backend.wait(futures)
        cpu.stop()
        makespan = max(done_at) - t0
    bad = [x for x in results if not x.ok]
    if bad:
        raise RuntimeError(
            f"direct run: {len(bad)} jobs failed: {bad[0].reason} {bad[0].stderr_tail[-500:]}"
        )
    shutil.rmtree(out_root, ignore_errors=True)
    return {
        "jobs": len(jobs),
        "workers": workers,
        "makespan_s": r(makespan),
        "jobs_per_s": r(len(jobs) / makespan),
        "mean_job_s": r(statistics.mean(x.elapsed_s for x in results)),
        "cpu": cpu.report(len(jobs)),
    }
