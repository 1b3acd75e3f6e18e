"""`make bench`: how fast a TES network on this machine is, and where the time goes.

    python -m oracle.bench                 # the full run (~5 min on 2 cores): docs/bench.json + docs/BENCHMARKS.md
    python -m oracle.bench --quick         # a smoke test with tiny N (well under a minute)
    python -m oracle.bench --e2e-jobs 100 --json out.json --md out.md

One anvil chain is started and the contracts deployed (as in `make demo`), then:

1. anvil's own ceiling: plain ETH transfers signed with eth_account and sent as raw transactions
   through web3 (as the node sends), waiting for each receipt in turn (with the node's per-tx
   reads: nonce, fees, gas estimate) and pipelined (all sent, then all receipts);
2. end to end: N short `command` jobs (k = 1) submitted in a burst by the client SDK (a permit
   each), run by real `tes-node run` processes, from the client starting `submit` to the job being
   Accepted ("proven") and Paid (the node settles (settleAndWithdraw) once the 1 s dispute window has passed in chain
   time; a block is mined every 0.5 s so chain time moves as it would on a real chain) — once with
   proof batching (--batch-size 20) and once without (--batch-size 1);
3. oracle overhead: the same set of 1-second jobs (sleep 1 s, write a file) through the network
   (submission -> proven) and straight on the node's backend (LocalSandboxBackend.submit all, wait)
   with the same number of workers;
4. scaling: one set of CPU-bound jobs on LocalSandboxBackend with 1, 2 and 4 workers;
5. gas: copied from docs/gas.json (`make gas`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from oracle.localnet import REPO, Anvil, NodeProcess, make_keystore, wait_for

E18 = 10**18
PAYMENT = 5 * E18
SHORT_DISPUTE_WINDOW = 1  # s (the smallest a k = 1 job may ask for)
BLOCK_CLOCK_S = 0.5  # the bench mines an empty block this often so chain time moves
POLL_S = 0.2  # node poll interval (TES_POLL_INTERVAL_S)

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


@dataclasses.dataclass
class Config:
    e2e_jobs: int = 40
    overhead_jobs: int = 40
    scaling_jobs: int = 12
    scaling_job_s: float = 1.0
    transfers: int = 300
    nodes: int = 1
    workers: int = 2
    batch_size: int = 20
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
    from oracle.errors import OracleError
    from oracle.execute.sandbox import SandboxConfig, ensure_sandbox

    try:
        ensure_sandbox(SandboxConfig.detect())
        return "bubblewrap"
    except OracleError:
        return "unsafe"


# ------------------------------------------------------------------------------------ chain helpers
class Watcher(threading.Thread):
    """Watches the market for ResultAccepted / JobPaid (wall time of first sight, polled every
    50 ms) and mines an empty block every BLOCK_CLOCK_S."""

    def __init__(self, url: str, market_address: str, abi: list[dict], from_block: int):
        super().__init__(daemon=True, name="bench-watch")
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
        self.market = Web3.to_checksum_address(market_address)
        sigs = {}
        for item in abi:
            if item.get("type") == "event" and item["name"] in ("ResultAccepted", "JobPaid"):
                sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                sigs["0x" + Web3.keccak(text=sig).hex().removeprefix("0x")] = item["name"]
        assert len(sigs) == 2, "market ABI lacks ResultAccepted/JobPaid"
        self.topics = sigs
        self.next_block = from_block
        self.seen: dict[str, dict[int, float]] = {"ResultAccepted": {}, "JobPaid": {}}
        # (event, jobId) -> times seen: a job paid twice is a bug the bench must not hide
        self.count: Counter[tuple[str, int]] = Counter()
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None
        # JSON-RPC requests this watcher made, by method (to tell them apart in anvil's log)
        self.requests: Counter[str] = Counter()

    def run(self) -> None:
        last_mine = time.monotonic()
        try:
            while not self.stop_flag.is_set():
                latest = self.w3.eth.block_number
                self.requests["eth_blockNumber"] += 1
                if latest >= self.next_block:
                    self.requests["eth_getLogs"] += 1
                    logs = self.w3.eth.get_logs(
                        {
                            "address": self.market,
                            "fromBlock": self.next_block,
                            "toBlock": latest,
                            "topics": [list(self.topics)],
                        }
                    )
                    now = time.monotonic()
                    for lg in logs:
                        name = self.topics["0x" + bytes(lg["topics"][0]).hex().removeprefix("0x")]
                        job_id = int.from_bytes(bytes(lg["topics"][1]), "big")
                        self.seen[name].setdefault(job_id, now)
                        self.count[(name, job_id)] += 1
                    self.next_block = latest + 1
                if time.monotonic() - last_mine >= BLOCK_CLOCK_S:
                    self.w3.provider.make_request("evm_mine", [])
                    self.requests["evm_mine"] += 1
                    last_mine = time.monotonic()
                self.stop_flag.wait(0.05)
        except BaseException as err:  # noqa: BLE001 (reported by the main thread)
            self.error = err

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(10)


def anvil_ceiling(url: str, key: str, to: str, n: int) -> dict[str, Any]:
    """Plain ETH transfers per second: node-style sequential, bare sequential, pipelined."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    acct = Account.from_key(key)
    chain_id = w3.eth.chain_id
    out: dict[str, Any] = {"transfers": n}

    # (a) as oracle.submit.Submitter._send does it: nonce, fees, estimate, sign, send, receipt
    t0 = time.monotonic()
    for _ in range(n):
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        tip = max(w3.eth.max_priority_fee, 0) if base else 0
        tx = {
            "from": acct.address,
            "to": to,
            "value": 1,
            "nonce": nonce,
            "chainId": chain_id,
            "maxFeePerGas": 2 * base + tip + 1,
            "maxPriorityFeePerGas": tip,
        }
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 1.3) + 20_000
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.2)["status"] == 1
    out["sequential_node_style_per_s"] = r(n / (time.monotonic() - t0), 1)

    # (b) bare sequential: pre-known nonce and gas, sign, send, wait for the receipt
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    t0 = time.monotonic()
    for i in range(n):
        tx = {
            "to": to,
            "value": 1,
            "nonce": nonce + i,
            "chainId": chain_id,
            "gas": 21_000,
            "maxFeePerGas": 1,
            "maxPriorityFeePerGas": 0,
        }
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.2)
    out["sequential_per_s"] = r(n / (time.monotonic() - t0), 1)

    # (c) pipelined: sign and send all, then collect every receipt
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    t0 = time.monotonic()
    hashes = []
    for i in range(n):
        tx = {
            "to": to,
            "value": 1,
            "nonce": nonce + i,
            "chainId": chain_id,
            "gas": 21_000,
            "maxFeePerGas": 1,
            "maxPriorityFeePerGas": 0,
        }
        hashes.append(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))
    for h in hashes:
        assert w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.05)["status"] == 1
    out["pipelined_per_s"] = r(n / (time.monotonic() - t0), 1)
    return out


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
        t0 = time.monotonic()
        futures = [backend.submit(s) for s in specs]
        done_at: list[float] = []
        for f in futures:
            f.add_done_callback(lambda _f: done_at.append(time.monotonic()))
        results = backend.wait(futures)
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
    }


# ------------------------------------------------------------------------------------ the network
RPC_LINE = re.compile(r"(eth|evm|anvil|net|web3|debug)_[A-Za-z]+")
STAGE_LINE = re.compile(r"job (\d+) (\w+)(?:: [^(]*)? \(\+([\d.]+)s, ([\d.]+)s since seen\)")


class Network:
    """anvil + contracts + node licences set up (through ape), and what the phases share."""

    def __init__(self, work: Path, cfg: Config):
        self.work, self.cfg = work, cfg
        self.anvil = Anvil(log=work / "anvil.log")
        self.nodes: list[NodeProcess] = []
        self.unsafe = sandbox_mode() == "unsafe"

    def setup(self) -> None:
        from ape import accounts, project

        from oracle.client.sdk import Client
        from oracle.deployment import deploy_all, save_record

        ta = accounts.test_accounts
        deployer, treasury, client_acct = ta[0], ta[1], ta[2]
        owners, operators = [ta[3], ta[4], ta[5]], [ta[6], ta[7], ta[8]]
        self.transfer_key, self.transfer_to = ta[9].private_key, str(ta[8])
        d = deploy_all(project, deployer, treasury)
        self.record = save_record("local", d, self.work / "deployment.json", abis=True)
        price = d.licence.tier(0).price
        caps = (max(os.cpu_count() or 1, 1), 2048, 0, 0, 0)
        stake = 10 * d.registry.minStake()
        for owner, op in list(zip(owners, operators, strict=True))[: self.cfg.nodes]:
            tx = d.licence.buy(0, 1, value=price, sender=owner)
            node_id = tx.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
            d.token.transfer(owner, stake, sender=treasury)
            d.registry.bindOperator(node_id, op, sender=owner)
            d.registry.acceptOperator(node_id, sender=op)  # two-step binding: the key consents
            d.registry.declareCapabilities(node_id, caps, sender=owner)
            d.token.approve(d.registry, stake, sender=owner)
            d.registry.stake(node_id, stake, sender=owner)
            d.registry.activate(node_id, sender=owner)
        total = (self.cfg.e2e_jobs * 2 + self.cfg.overhead_jobs + 10) * PAYMENT
        d.token.transfer(client_acct, total, sender=treasury)
        self.ape_data = self.work / "ape-data"
        for i, op in enumerate(operators[: self.cfg.nodes]):
            make_keystore(self.ape_data, f"op{i}", op.private_key)
        self.client = Client.connect(
            self.anvil.url, self.record, key=Account.from_key(client_acct.private_key)
        )
        self.w3 = self.client.w3
        self.market_abi = self.client.chain.abis["JobMarket"]

    # ------------------------------------------------------------------ one phase
    def phase(
        self, name: str, jobs: list, *, batch_size: int, until: str, windows: dict[str, int]
    ) -> dict[str, Any]:
        """Starts fresh node processes, submits every job in a burst and waits until each is
        `until` ("ResultAccepted" or "JobPaid"). Returns timings and the nodes' transactions."""
        from oracle.client.publish import BundleServer

        cfg = self.cfg
        start_block = self.w3.eth.block_number
        nodes = []
        for i in range(cfg.nodes):
            extra = ["--workers", str(cfg.workers), "--batch-size", str(batch_size)]
            if self.unsafe:
                extra.append("--allow-unsafe")
            n = NodeProcess(
                f"op{i}",
                self.work / f"nodes-{name}",
                self.anvil.url,
                self.record,
                self.ape_data,
                *extra,
            )
            n.env.update(TES_START_BLOCK=str(start_block), TES_POLL_INTERVAL_S=str(POLL_S))
            nodes.append(n.start())
            self.nodes.append(n)
        watcher = Watcher(
            self.anvil.url, self.client.chain.market.address, self.market_abi, start_block
        )
        watcher.start()
        server = BundleServer([p.path for p in jobs]).start()
        try:
            # ready once each node has announced itself and sent its heartbeat
            t_ready = time.monotonic()
            wait_for(
                lambda: all(n.quiet() for n in nodes),
                timeout=120,
                what="nodes to start",
                nodes=nodes,
            )
            log(
                f"  node(s) ready in {time.monotonic() - t_ready:.1f}s; submitting {len(jobs)} jobs"
            )
            submitted: dict[int, float] = {}
            created: dict[int, float] = {}
            log_offset, watcher_before = self._anvil_log_size(), Counter(watcher.requests)
            t_first = time.monotonic()
            for p in jobs:
                t = time.monotonic()
                job_id = self.client.submit(
                    p.path, server.uri(p.path), PAYMENT, replicas=1, windows=windows
                )
                submitted[job_id], created[job_id] = t, time.monotonic()
            t_submitted = time.monotonic()
            budget = 120 + 10 * len(jobs)

            def done() -> bool:
                if watcher.error:
                    raise watcher.error
                return all(j in watcher.seen[until] for j in submitted)

            wait_for(
                done, timeout=budget, interval=0.1, what=f"{len(jobs)} jobs {until}", nodes=nodes
            )
            rpc = self._rpc_counts(log_offset)
            watcher_requests = watcher.requests - watcher_before
            rpc_rest = rpc - watcher_requests
            # after the timings: every result fetched from its node and checked against the chain
            verified = self._check_results(name, sorted(submitted), watcher, until)
        finally:
            server.stop()
            watcher.stop()
            for n in nodes:
                if n.alive():
                    n.proc.terminate()
            for n in nodes:
                n.stop()
        accepted, paid = watcher.seen["ResultAccepted"], watcher.seen["JobPaid"]
        ids = sorted(submitted)
        lat_acc = [accepted[j] - submitted[j] for j in ids]
        out: dict[str, Any] = {
            "jobs": len(ids),
            "nodes": cfg.nodes,
            "workers_per_node": cfg.workers,
            "batch_size": batch_size,
            "submit_s": r(t_submitted - t_first),
            "submit_per_s": r(len(ids) / (t_submitted - t_first)),
            "submit_tx_latency_mean_s": r(statistics.mean(created[j] - submitted[j] for j in ids)),
            "proven_makespan_s": r(max(accepted[j] for j in ids) - t_first),
            "proven_per_s": r(len(ids) / (max(accepted[j] for j in ids) - t_first)),
            "proven_latency_p50_s": r(pct(lat_acc, 50)),
            "proven_latency_p95_s": r(pct(lat_acc, 95)),
        }
        if until == "JobPaid":
            lat_paid = [paid[j] - submitted[j] for j in ids]
            makespan = max(paid[j] for j in ids) - t_first
            out.update(
                {
                    "paid_makespan_s": r(makespan),
                    "paid_per_s": r(len(ids) / makespan),
                    "paid_latency_p50_s": r(pct(lat_paid, 50)),
                    "paid_latency_p95_s": r(pct(lat_paid, 95)),
                }
            )
        out["verified"] = verified
        out.update(self._node_stats(nodes, ids))
        out["rpc"] = {
            "requests": sum(rpc.values()),
            "bench_watcher": sum(watcher_requests.values()),
            "node_and_client_per_job": r(sum(rpc_rest.values()) / len(ids), 1),
            "node_and_client_top_methods": dict(rpc_rest.most_common(6)),
        }
        return out

    def _check_results(self, name: str, ids: list[int], watcher: Watcher, until: str) -> int:
        """Fetches every job's result (the client SDK checks it against the chain: k = 1 against
        the salted commitment with the node's salt) and re-verifies it offline; raises unless each
        job was paid at most once (exactly once when the phase waited for payment)."""
        twice = [j for j in ids if watcher.count[("JobPaid", j)] > 1]
        unpaid = [j for j in ids if until == "JobPaid" and watcher.count[("JobPaid", j)] != 1]
        if twice or unpaid:
            raise RuntimeError(f"{name}: jobs paid more than once {twice}, not paid {unpaid}")
        for job_id in ids:
            dest = self.work / f"results-{name}" / str(job_id)
            digest = self.client.fetch(job_id, dest)
            if self.client.verify(job_id, dest) != digest:
                raise RuntimeError(f"{name}: job {job_id}'s result did not verify")
        return len(ids)

    def _anvil_log_size(self) -> int:
        return self.anvil.log.stat().st_size if self.anvil.log and self.anvil.log.exists() else 0

    def _rpc_counts(self, offset: int) -> Counter[str]:
        """JSON-RPC methods anvil logged since `offset` (anvil logs one line per request)."""
        if not self.anvil.log or not self.anvil.log.exists():
            return Counter()
        with open(self.anvil.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        return Counter(m for m in (ln.strip() for ln in text.splitlines()) if RPC_LINE.fullmatch(m))

    @staticmethod
    def _node_stats(nodes: list[NodeProcess], ids: list[int]) -> dict[str, Any]:
        txs: Counter[str] = Counter()
        gas: Counter[str] = Counter()
        failed = 0
        stage_s: dict[str, list[float]] = defaultdict(list)
        for n in nodes:
            # one row per transaction (a batch's intents share it, each recording its share of the gas)
            for kind, status, g in n.db(
                "SELECT kind, MAX(status), COALESCE(SUM(gas_used), 0) FROM intents "
                "WHERE tx_hash IS NOT NULL GROUP BY tx_hash"
            ):
                txs[kind] += 1
                gas[kind] += g
                failed += status == "failed"
            for line in n.log().splitlines():
                m = STAGE_LINE.search(line)
                if m and int(m.group(1)) in ids:
                    stage_s[m.group(2)].append(float(m.group(3)))
        job_kinds = ("claim", "proof", "settle")
        return {
            "node_txs": dict(txs),
            "node_txs_failed": failed,
            "node_gas_per_job": int(sum(gas[k] for k in job_kinds) / max(len(ids), 1)),
            "gas_per_job_by_kind": {
                k: int(gas[k] / max(len(ids), 1)) for k in job_kinds if k in gas
            },
            "node_txs_per_job": r(sum(txs[k] for k in job_kinds) / max(len(ids), 1), 2),
            # mean seconds from a job's previous stage to each stage (from the nodes' logs)
            "stage_mean_s": {
                k: r(statistics.mean(v), 2) for k, v in stage_s.items() if k != "seen"
            },
        }


# ------------------------------------------------------------------------------------ main
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
                f"anvil at {net.anvil.url}; deployed and {cfg.nodes} node(s) set up in {time.monotonic() - t:.1f}s"
            )

            log(f"anvil ceiling: {cfg.transfers} plain transfers x 3 ways")
            results["anvil"] = anvil_ceiling(
                net.anvil.url, net.transfer_key, net.transfer_to, cfg.transfers
            )
            log(f"  {results['anvil']}")

            short = make_jobs(work, "short-a", SHORT_JOB, cfg.e2e_jobs)
            short_b = make_jobs(
                work, "short-b", SHORT_JOB.replace("job %s", "job-b %s"), cfg.e2e_jobs
            )
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
        for w, s in scaling.items():
            s["efficiency"] = r(s["jobs_per_s"] / (int(w) * base))
            if int(w) > (os.cpu_count() or 1):
                s["note"] = f"{w} workers on {os.cpu_count()} cores: oversubscribed"
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
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = r(time.monotonic() - t_start, 1)
    return results


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
        for k in ("lifecycle_k1_total", "lifecycle_k3_total", "proof_relay_per_job")
        if k in g
    } | {"source": "docs/gas.json (make gas, " + g.get("network", "?") + ")"}


# ------------------------------------------------------------------------------------ report
def markdown(res: dict[str, Any], command: str) -> str:
    m = res["machine"]
    b, u = res["e2e"]["batched"], res["e2e"]["unbatched"]
    o, a = res["overhead"], res["anvil"]
    cores = m["nproc"]
    L = [
        "# TES benchmarks",
        "",
        f"Generated by `{command}` on {m['date']} ({res['seconds']:.0f} s). Regenerate with `make bench`"
        " (`python -m oracle.bench --quick` is a smoke test; `--help` for the sizes).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs (`nproc`) | {cores} |",
        f"| CPU model | {m['cpu_model']} |",
        f"| memory | {m['memory_gib']} GiB |",
        f"| OS / Python | {m['os']} / {m['python']} |",
        f"| anvil | {m['anvil']} |",
        f"| job sandbox | {res['sandbox']} |",
        f"| load average (1/5/15 min) at start, end | {m['load_avg_at_start']}, {m.get('load_avg_at_end')} |",
        "",
        "A load average above the core count means other work shared the CPUs during the run: every"
        " process here (anvil, node, client, jobs) competes for the same cores, so the numbers are"
        " lower bounds for a quiet machine.",
        "",
        "## Summary (`docs/bench.json`)",
        "",
        "| key | value | meaning |",
        "|---|---|---|",
        f"| `jobs_per_s` | {res['jobs_per_s']} | short k = 1 jobs settled (Paid) per second, burst of {b['jobs']}, proof batching on |",
        f"| `latency_p50_s` | {res['latency_p50_s']} | submission → Paid, median (includes the 1 s dispute window) |",
        f"| `latency_p95_s` | {res['latency_p95_s']} | submission → Paid, 95th percentile |",
        f"| `anvil_transfers_per_s` | {res['anvil_transfers_per_s']} | anvil's ceiling: pipelined plain transfers |",
        f"| `overhead_ratio_1s` | {res['overhead_ratio_1s']} | 1 s jobs through the network ÷ straight on the backend (target ≤ 1.15) |",
        f"| `scaling` | 1: {res['scaling']['1']['jobs_per_s']}, 2: {res['scaling']['2']['jobs_per_s']}, 4: {res['scaling']['4']['jobs_per_s']} jobs/s | CPU-bound jobs on 1, 2, 4 workers |",
        "",
        "## End to end on anvil",
        "",
        f"{b['jobs']} short `command` jobs (k = 1, each writes one file), submitted in one burst by the client SDK"
        f" (`Client.submit`: one `createJobWithPermit` each, sequentially), run by {b['nodes']} `tes-node run`"
        f" process(es) with `--workers {b['workers_per_node']}` and a {POLL_S} s poll interval. Latency is from the"
        " client starting `submit` to the wall-clock moment the bench saw the event: **proven** = `ResultAccepted`"
        " (the node's proof is on chain), **paid** = `JobPaid` (the node's `settleAndWithdraw` after the 1 s dispute window"
        f" has passed in chain time). The bench mines an empty block every {BLOCK_CLOCK_S} s so chain time moves as"
        " on a real chain; there are no time warps. Throughput = jobs ÷ (last event − first submission).",
        "",
        "| | proof batching (`--batch-size "
        + str(b["batch_size"])
        + "`) | no batching (`--batch-size 1`) |",
        "|---|---|---|",
        f"| jobs settled (Paid) per second | **{b['paid_per_s']}** | **{u['paid_per_s']}** |",
        f"| submission → Paid p50 / p95 (s) | {b['paid_latency_p50_s']} / {b['paid_latency_p95_s']} | {u['paid_latency_p50_s']} / {u['paid_latency_p95_s']} |",
        f"| jobs proven (Accepted) per second | {b['proven_per_s']} | {u['proven_per_s']} |",
        f"| submission → proven p50 / p95 (s) | {b['proven_latency_p50_s']} / {b['proven_latency_p95_s']} | {u['proven_latency_p50_s']} / {u['proven_latency_p95_s']} |",
        f"| client submissions per second (permit + create) | {b['submit_per_s']} | {u['submit_per_s']} |",
        f"| node transactions | {_txs(b)} | {_txs(u)} |",
        f"| node transactions per job (claim + proof + settleAndWithdraw) | {b['node_txs_per_job']} | {u['node_txs_per_job']} |",
        f"| node gas per job (claim + proof + settleAndWithdraw) | {b['node_gas_per_job']:,} | {u['node_gas_per_job']:,} |",
        f"| JSON-RPC requests per job (node + client, from anvil's log) | {b['rpc']['node_and_client_per_job']} | {u['rpc']['node_and_client_per_job']} |",
        f"| proof gas per job | {b['gas_per_job_by_kind'].get('proof', 0):,} | {u['gas_per_job_by_kind'].get('proof', 0):,} |",
        f"| mean seconds from the previous stage to each stage (node log) | {_stages(b)} | {_stages(u)} |",
        "",
        "**anvil's own ceiling, same run, same chain** (plain ETH transfers, signed with eth_account and sent"
        " as raw transactions through web3, as the node sends):",
        "",
        "| way | transfers/s |",
        "|---|---|",
        f"| sequential, node-style (pending nonce, fees, `estimate_gas`, sign, send, wait for receipt) | {a['sequential_node_style_per_s']} |",
        f"| sequential, bare (sign, send, wait for receipt) | {a['sequential_per_s']} |",
        f"| pipelined (send all {a['transfers']}, then all receipts) | **{a['pipelined_per_s']}** |",
        "",
        f"A settled k = 1 job takes 1 client transaction (create) and {b['node_txs_per_job']} node transactions"
        f" with batching, so {b['paid_per_s']} jobs/s is about {r((1 + b['node_txs_per_job']) * b['paid_per_s'], 1)}"
        f" transactions/s: {r(100 * (1 + b['node_txs_per_job']) * b['paid_per_s'] / a['sequential_node_style_per_s'], 0):g}%"
        f" of the node-style sequential ceiling and {r(100 * (1 + b['node_txs_per_job']) * b['paid_per_s'] / a['pipelined_per_s'], 0):g}%"
        " of the pipelined one. " + _e2e_comment(b, u, a["sequential_node_style_per_s"]),
        "",
        "Latency here is mostly queueing: the whole burst is submitted at once to one node with"
        f" {b['workers_per_node']} workers, so the last jobs wait for the first ones; a job alone on an idle node"
        " takes a few seconds to proven and about 2 s more to paid (the 1 s dispute window, whole-second block"
        " timestamps, then a settleAndWithdraw transaction).",
        "",
        "## Oracle overhead (1-second jobs)",
        "",
        f"{o['network']['jobs']} jobs that sleep 1 s and write a file, each its own bundle. **Network**: submitted in a burst,"
        f" run by {o['network']['nodes']} node with `--workers {o['network']['workers_per_node']}`, timed from the first"
        " `submit` to the last `ResultAccepted` (default windows, so no settlement traffic). **Direct**: the same unpacked"
        f" bundles submitted at once to `LocalSandboxBackend(max_workers={o['direct']['workers']})` — the node's own"
        " backend, same sandbox — timed until the last result.",
        "",
        "| | makespan (s) | jobs/s |",
        "|---|---|---|",
        f"| through the network (submission → proven) | {o['network']['proven_makespan_s']} | {o['network']['proven_per_s']} |",
        f"| directly on the backend | {o['direct']['makespan_s']} | {o['direct']['jobs_per_s']} |",
        f"| **ratio** (target ≤ 1.15) | **{o['ratio']}** | |",
        "",
        f"Ideal makespan: {o['direct']['jobs']} jobs × 1 s ÷ {o['direct']['workers']} workers ="
        f" {o['direct']['jobs'] / o['direct']['workers']:g} s; the direct run's extra is the sandbox (mean"
        f" {o['direct']['mean_job_s']} s per 1 s job). " + _overhead_comment(o),
        "",
        "## Scaling",
        "",
        f"{res['scaling']['1']['jobs']} CPU-bound jobs (a pure-Python loop calibrated to ~{res['scaling_detail']['job_s_target']:g} s,"
        f" {res['scaling_detail']['iters']:,} iterations) on `LocalSandboxBackend(max_workers=n, cpus=n)`."
        " Efficiency = jobs/s ÷ (n × jobs/s with 1 worker).",
        "",
        "| workers | makespan (s) | jobs/s | efficiency | |",
        "|---|---|---|---|---|",
    ]
    for w, s in res["scaling"].items():
        L.append(
            f"| {w} | {s['makespan_s']} | {s['jobs_per_s']} | {s['efficiency']} | {s.get('note', '')} |"
        )
    L += [
        "",
        f"**This machine has {cores} cores**: on a quiet machine more workers than cores cannot add"
        f" throughput (4 workers time-share {cores} cores, so expect efficiency ≤ {cores}/4 at 4)."
        + (
            f" This run was not quiet (load average {m['load_avg_at_start'][0]} at start, {cores} cores): other"
            " processes competed for the CPUs, and a run with more processes wins a larger share of contended"
            " cores, which inflates the 2- and 4-worker numbers (and the mean time per job grows with workers)."
            if max(m["load_avg_at_start"][0], (m.get("load_avg_at_end") or [0])[0]) > cores
            else ""
        ),
        "",
        "## Gas",
        "",
    ]
    g = res["gas"]
    if "lifecycle_k1_total" in g:
        L += [
            f"From {g['source']}; see docs/gas.md for every operation.",
            "",
            "| | gas |",
            "|---|---|",
            f"| k = 1 lifecycle (create, claim, proof, finalize, withdraw) | {g['lifecycle_k1_total']:,} |",
            f"| k = 3 lifecycle | {g['lifecycle_k3_total']:,} |",
        ]
        for n, v in g.get("proof_relay_per_job", {}).items():
            L.append(f"| proof relay per job, batch of {n} | {v:,} |")
        L += [
            "",
            f"Measured on anvil in this run (node transactions only, per job): {b['node_gas_per_job']:,} gas with"
            f" batching, {u['node_gas_per_job']:,} without (the batched run goes first and also pays one-off"
            " costs of the first jobs on a fresh deployment, e.g. the first finalize; compare the proof gas per"
            f" job: {b['gas_per_job_by_kind'].get('proof', 0):,} vs {u['gas_per_job_by_kind'].get('proof', 0):,}).",
        ]
    else:
        L.append(g.get("note", "no gas figures"))
    L.append("")
    return "\n".join(L)


def _txs(p: dict[str, Any]) -> str:
    t = p["node_txs"]
    return ", ".join(
        f"{k} {t[k]}" for k in ("claim", "proof", "settle", "announce", "heartbeat") if k in t
    )


def _stages(p: dict[str, Any]) -> str:
    order = ("claiming", "claimed", "running", "executed", "proving", "proven", "done")
    s = p["stage_mean_s"]
    return ", ".join(f"{k} +{s[k]}" for k in order if k in s)


def _e2e_comment(b: dict[str, Any], u: dict[str, Any], seq: float) -> str:
    ratio = b["paid_per_s"] / u["paid_per_s"] if u["paid_per_s"] else float("nan")
    bound = seq / b["node_txs_per_job"] if b["node_txs_per_job"] else float("nan")
    top = ", ".join(f"{k} {v}" for k, v in b["rpc"]["node_and_client_top_methods"].items())
    return (
        f"Batching cut proof transactions from {u['node_txs'].get('proof', 0)} to {b['node_txs'].get('proof', 0)}"
        f" (proof gas per job {u['gas_per_job_by_kind'].get('proof', 0):,} → {b['gas_per_job_by_kind'].get('proof', 0):,})"
        f" and changed throughput by ×{ratio:.2f}: claims stay one transaction per job. A node sends"
        " its transactions one at a time, waiting for each receipt, so sending alone would cap one node at about"
        f" {seq:g} ÷ {b['node_txs_per_job']} ≈ {bound:.1f} jobs/s here; it settled {b['paid_per_s']}, so the"
        " transactions are not the limit either. The limit is the node's loop: every step re-reads the chain"
        " for each job in flight and a job advances one stage per step; node and client made"
        f" {b['rpc']['node_and_client_per_job']} JSON-RPC requests per settled job (busiest: {top})."
    )


def _overhead_comment(o: dict[str, Any]) -> str:
    net = o["network"]
    extra = net["proven_makespan_s"] - o["direct"]["makespan_s"]
    top = ", ".join(f"{k} {v}" for k, v in net["rpc"]["node_and_client_top_methods"].items())
    return (
        f"The network adds {extra:.1f} s over running the same jobs straight on the backend."
        " What remains is the node's loop, not the chain and not the sandbox: each job still waits for"
        " the chain between stages (claim mined → run → proof mined), a step reads the job and replica"
        f" views of every job in flight; mean seconds from the previous stage were {_stages(net)}; the"
        f" node and client made {net['rpc']['node_and_client_per_job']} JSON-RPC requests per job"
        f" (busiest: {top}), while anvil itself is far from its ceiling. Claims are pipelined (consecutive"
        " nonces, receipts awaited together) and limited to free workers plus a small prefetch, and a job"
        " moves through every stage the chain allows within one step."
        f" The client's {net['jobs']} submissions took {net['submit_s']} s"
        f" ({net['submit_per_s']} jobs/s, overlapping the execution)."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oracle.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny N: a smoke test (< 1 min)")
    ap.add_argument("--e2e-jobs", type=int, help="short jobs per end-to-end run (default 40)")
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
    ap.add_argument("--nodes", type=int, choices=(1, 2, 3), help="node processes (default 1)")
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
        "python -m oracle.bench"
        + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    )
    if command == "python -m oracle.bench":
        command = "make bench"
    res["command"] = command
    cfg.json_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.json_path.write_text(json.dumps(res, indent=2) + "\n")
    cfg.md_path.parent.mkdir(parents=True, exist_ok=True)
    cfg.md_path.write_text(markdown(res, command))
    log(
        f"jobs/s {res['jobs_per_s']}, p50 {res['latency_p50_s']} s, p95 {res['latency_p95_s']} s, anvil "
        f"{res['anvil_transfers_per_s']} transfers/s, overhead ratio {res['overhead_ratio_1s']}, scaling "
        + ", ".join(
            f"{w}: {s['jobs_per_s']}/s eff {s['efficiency']}" for w, s in res["scaling"].items()
        )
    )
    log(f"wrote {cfg.json_path} and {cfg.md_path} in {res['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
