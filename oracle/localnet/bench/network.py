"""The network side of the benchmark: anvil, the contracts and node licences (set up through ape),
and one phase: fresh `tes-node run` processes, a burst of jobs from the client SDK, and what it
took (timings, transactions, gas, JSON-RPC requests by method)."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from eth_account import Account

from oracle.localnet.bench.chainwatch import Watcher
from oracle.localnet.bench.common import (
    MAX_NODES,
    PAYMENT,
    POLL_S,
    QUOTE_QUEUE,
    Config,
    log,
    pct,
    r,
    sandbox_mode,
)
from oracle.localnet.bench.cpu import CpuWindow, with_descendants
from oracle.localnet.bench.rpcproxy import RpcProxy
from oracle.localnet.network import Anvil, NodeProcess, make_keystore, wait_for

RPC_LINE = re.compile(r"(eth|evm|anvil|net|web3|debug)_[A-Za-z]+")
# a node's step in its log (oracle/node/loop.Node._mark); job ids are written as 0x and 64 hex digits
STAGE_LINE = re.compile(
    r"job (0x[0-9a-f]{64}) (\w+)(?:: [^(]*)? \(\+([\d.]+)s, ([\d.]+)s since seen\)"
)
JOB_TX_KINDS = ("claim", "proof", "settle")  # a k = 1 job's node transactions


def count_requests(w3: Any) -> Counter[str]:
    """Counts, by method, every JSON-RPC request this web3 instance's HTTP provider sends (from
    now on; clear the counter to start again)."""
    counts: Counter[str] = Counter()
    provider = w3.provider
    send = provider._make_request  # where HTTPProvider puts a single request on the wire
    send_batch = provider.make_batch_request  # and a JSON-RPC batch (each request in it counts)

    def counted(method: Any, request_data: bytes) -> bytes:
        counts[str(method)] += 1
        return send(method, request_data)

    def counted_batch(requests: list[tuple[Any, Any]]) -> Any:
        counts.update(str(method) for method, _ in requests)
        return send_batch(requests)

    setattr(provider, "_make_request", counted)  # noqa: B010 (an instance attribute, on purpose)
    setattr(provider, "make_batch_request", counted_batch)  # noqa: B010
    return counts


class Network:
    """anvil + contracts + node licences set up (through ape), and what the phases share."""

    def __init__(self, work: Path, cfg: Config):
        self.work, self.cfg = work, cfg
        self.anvil = Anvil(log=work / "anvil.log")
        self.nodes: list[NodeProcess] = []
        self.unsafe = sandbox_mode() == "unsafe"
        self.licences = min(max(cfg.nodes, cfg.multi_nodes), MAX_NODES)

    def setup(self) -> None:
        from ape import accounts, project

        from oracle.client.sdk import Client
        from oracle.localnet.deployment import deploy_all, save_record

        ta = accounts.test_accounts
        deployer, treasury, client_acct = ta[0], ta[1], ta[2]
        owners, operators = [ta[3], ta[4], ta[5]], [ta[6], ta[7], ta[8]]
        self.transfer_key, self.transfer_to = ta[9].private_key, str(ta[8])
        d = deploy_all(project, deployer, treasury)
        self.record = save_record("local", d, self.work / "deployment.json", abis=True)
        price = d.licence.tier(0).price
        caps = (max(os.cpu_count() or 1, 1), 2048, 0, 0, 0)
        stake = 10 * d.registry.minStake()
        # one licence, owner and operator key per node process any phase starts
        for owner, op in list(zip(owners, operators, strict=True))[: self.licences]:
            tx = d.licence.buy(0, 1, value=price, sender=owner)
            node_id = tx.decode_logs(d.licence.LicencesPurchased)[0].firstTokenId
            d.token.transfer(owner, stake, sender=treasury)
            d.registry.bindOperator(node_id, op, sender=owner)
            d.registry.acceptOperator(node_id, sender=op)  # two-step binding: the key consents
            d.registry.declareCapabilities(node_id, caps, sender=owner)
            d.token.approve(d.registry, stake, sender=owner)
            d.registry.stake(node_id, stake, sender=owner)
            d.registry.activate(node_id, sender=owner)
        c = self.cfg
        total = (2 * c.e2e_jobs + c.overhead_jobs + c.multi_jobs + c.latency_jobs + 10) * PAYMENT
        d.token.transfer(client_acct, total, sender=treasury)
        self.ape_data = self.work / "ape-data"
        for i, op in enumerate(operators[: self.licences]):
            make_keystore(self.ape_data, f"op{i}", op.private_key)
        self.client_key = Account.from_key(client_acct.private_key)
        # the bench's own client (direct to anvil): result checks after the timings, not counted
        self.client = Client.connect(self.anvil.url, self.record, key=self.client_key)
        self.w3 = self.client.w3
        self.market_abi = self.client.chain.abis["JobMarket"]

    # ------------------------------------------------------------------ one phase
    def phase(
        self,
        name: str,
        jobs: list,
        *,
        batch_size: int,
        until: str,
        windows: dict[str, int],
        nodes: int | None = None,
        rpc_delay_ms: float = 0.0,
    ) -> dict[str, Any]:
        """Starts fresh node processes, submits every job in a burst and waits until each is
        `until` ("ResultAccepted" or "JobPaid"). Returns timings, the transactions and the
        JSON-RPC requests by method and side.

        Without a delay node and client talk to anvil directly (a proxy in this process, on these
        cores, would cost the node ~10 % of its throughput): anvil's log counts every request and
        the client's provider counts its own. With `rpc_delay_ms`, each reaches anvil through its
        own RpcProxy that holds every round trip that long and counts what passes."""
        from oracle.client.publish import BundleServer
        from oracle.client.sdk import Client, JobSpec

        cfg = self.cfg
        n_nodes = nodes or cfg.nodes
        if n_nodes > self.licences:
            raise ValueError(f"{name}: {n_nodes} nodes, but only {self.licences} licences set up")
        start_block = self.w3.eth.block_number
        procs: list[NodeProcess] = []
        watcher = Watcher(
            self.anvil.url, self.client.chain.market.address, self.market_abi, start_block
        )
        server = BundleServer([p.path for p in jobs]).start()
        proxies: list[RpcProxy] = []
        if rpc_delay_ms > 0:
            for side in ("node", "client"):
                proxies.append(RpcProxy(self.anvil.url, rpc_delay_ms / 1000, f"rpc-{side}-{name}"))
                proxies[-1].start()
        node_url, client_url = (p.url for p in proxies) if proxies else (self.anvil.url,) * 2
        try:
            watcher.start()
            for i in range(n_nodes):
                extra = ["--workers", str(cfg.workers), "--batch-size", str(batch_size)]
                if self.unsafe:
                    extra.append("--allow-unsafe")
                n = NodeProcess(
                    f"op{i}",
                    self.work / f"nodes-{name}",
                    node_url,
                    self.record,
                    self.ape_data,
                    *extra,
                )
                n.env.update(TES_START_BLOCK=str(start_block), TES_POLL_INTERVAL_S=str(POLL_S),
                             TES_QUOTE_QUEUE=str(QUOTE_QUEUE))  # fmt: skip
                procs.append(n.start())
                self.nodes.append(n)
            client = Client.connect(client_url, self.record, key=self.client_key)
            client_requests = count_requests(client.w3)
            # ready once each node has announced itself and sent its heartbeat
            t_ready = time.monotonic()
            wait_for(
                lambda: all(n.quiet() for n in procs),
                timeout=120,
                what="nodes to start",
                nodes=procs,
            )
            log(
                f"  {n_nodes} node(s) ready in {time.monotonic() - t_ready:.1f}s;"
                f" submitting {len(jobs)} jobs"
                + (f" (RPC round trips +{rpc_delay_ms:g} ms)" if rpc_delay_ms else "")
            )
            submitted: dict[int, float] = {}
            # A client with a stream of jobs keeps a market balance (`deposit`, two transactions
            # before the timing): each job is then paid from it, no permit and no token transfer.
            client.deposit(len(jobs) * PAYMENT)
            client_nonce = self.w3.eth.get_transaction_count(self.client_key.address)
            log_offset, watcher_before = self._anvil_log_size(), Counter(watcher.requests)
            client_requests.clear()
            for proxy in proxies:
                proxy.reset()
            # Who used the machine's cores from the first submission to the last payment (the
            # proxies of the +latency run are threads of this process, counted with the client).
            cpu = CpuWindow(
                {
                    "node": [n.proc.pid for n in procs if n.proc is not None],
                    # node_modules/.bin/anvil may be a launcher: the chain is its child
                    "anvil": with_descendants(self.anvil.proc.pid) if self.anvil.proc else [],
                    "client_and_bench": [os.getpid()],
                }
            )
            # One burst (`Client.submit_many`): every job's latency counts from its start.
            cpu.start()
            t_first = time.monotonic()
            specs = [JobSpec(p.path, server.uri(p.path), PAYMENT, windows=windows) for p in jobs]
            for done_job in client.submit_many(specs):
                if done_job.job_id is None:
                    raise RuntimeError(f"{name}: a job was not created: {done_job.error}")
                submitted[done_job.job_id] = t_first
            t_submitted = time.monotonic()
            budget = 120 + 10 * len(jobs)

            def done() -> bool:
                if watcher.error:
                    raise watcher.error
                return all(j in watcher.seen[until] for j in submitted)

            wait_for(
                done, timeout=budget, interval=0.1, what=f"{len(jobs)} jobs {until}", nodes=procs
            )
            cpu.stop()
            client_methods = Counter(client_requests)
            rpc = self._rpc_counts(log_offset)
            watcher_requests = watcher.requests - watcher_before
            rpc_rest = rpc - watcher_requests
            if proxies:
                node_methods = proxies[0].counts()[1]
                round_trips = sum(p.counts()[0] for p in proxies)
                client_round_trips = proxies[1].counts()[0]
            else:
                node_methods = rpc_rest - client_methods
            client_txs = self.w3.eth.get_transaction_count(self.client_key.address) - client_nonce
            # after the timings: every result fetched from its node and checked against the chain
            verified = self._check_results(name, sorted(submitted), watcher, until)
        finally:
            server.stop()
            watcher.stop()
            for n in procs:  # all at once: each may take a while to finish its step
                if n.proc is not None and n.alive():
                    n.proc.terminate()
            for n in procs:
                n.stop()
            for proxy in proxies:
                proxy.stop()
        accepted, paid = watcher.seen["ResultAccepted"], watcher.seen["JobPaid"]
        ids = sorted(submitted)
        lat_acc = [accepted[j] - submitted[j] for j in ids]
        out: dict[str, Any] = {
            "jobs": len(ids),
            "nodes": n_nodes,
            "workers_per_node": cfg.workers,
            "batch_size": batch_size,
            "rpc_delay_ms": rpc_delay_ms,
            "submit_s": r(t_submitted - t_first),
            "submit_per_s": r(len(ids) / (t_submitted - t_first)),
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
        out["cpu"] = cpu.report(len(ids))
        out.update(self._node_stats(procs, ids))
        out["client_txs"] = client_txs
        # k = 1 jobs created assigned on a node's quote (the rest were posted open and claimed)
        out["quoted"] = sum(1 for j in ids if j in client.assigned)
        # every transaction a job needed: the client's (createAndAssign or createJob) and the node's
        out["txs_per_job"] = r(client_txs / len(ids) + out["node_txs_per_job"], 3)
        both = node_methods + client_methods
        out["rpc"] = {
            # anvil's log (every request it served in the window, less the bench's own watcher)
            "requests": sum(rpc.values()),
            "bench_watcher": sum(watcher_requests.values()),
            "node_and_client_per_job": r(sum(rpc_rest.values()) / len(ids), 1),
            "node_and_client_top_methods": dict(rpc_rest.most_common(6)),
            # by side: the client's own count, the node's from anvil's log (or the proxies)
            "counted_at": "proxies" if proxies else "anvil log and client provider",
            "per_job": r(both.total() / len(ids), 2),
            "node_per_job": r(node_methods.total() / len(ids), 2),
            "client_per_job": r(client_methods.total() / len(ids), 2),
            "per_job_by_method": {m: r(c / len(ids), 2) for m, c in both.most_common()},
            "node_by_method": dict(node_methods.most_common()),
            "client_by_method": dict(client_methods.most_common()),
        }
        if proxies:
            out["rpc"]["round_trips_per_job"] = r(round_trips / len(ids), 2)
            out["rpc"]["client_round_trips_per_job"] = r(client_round_trips / len(ids), 2)
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
        claims_won: list[int] = []
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
            won = n.db(
                "SELECT COUNT(*) FROM intents WHERE kind = 'claim' AND status IN ('mined', 'done')"
            )
            claims_won.append(int(won[0][0]) if won else 0)
            for line in n.log().splitlines():
                m = STAGE_LINE.search(line)
                if m and int(m.group(1), 16) in ids:
                    stage_s[m.group(2)].append(float(m.group(3)))
        jobs = max(len(ids), 1)
        return {
            "node_txs": dict(txs),
            "node_txs_failed": failed,
            "node_gas_per_job": int(sum(gas[k] for k in JOB_TX_KINDS) / jobs),
            "gas_per_job_by_kind": {k: int(gas[k] / jobs) for k in JOB_TX_KINDS if k in gas},
            "node_txs_per_job": r(sum(txs[k] for k in JOB_TX_KINDS) / jobs, 2),
            "claims_won_by_node": claims_won,
            # mean seconds from a job's previous stage to each stage (from the nodes' logs)
            "stage_mean_s": {
                k: r(statistics.mean(v), 2) for k, v in stage_s.items() if k != "seen"
            },
        }
