"""The node: ties the stages together in one loop.

    ingest (events) -> schedule -> fetch -> claim -> execute -> prove -> submit -> reveal/finalize

Each job's progress is a `stage` row in the store, and every step first asks the chain where the
job really is, so a restart (or `kill -9`) resumes from the chain's truth: a claimed job is run
again (deterministically, giving the same result), a committed job is revealed with the salt that
was stored before the commitment was sent, and a sent transaction is looked up by its hash.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout

from oracle import bundle as bundles
from oracle import metrics
from oracle import store as st
from oracle.chain import Chain, load_operator_key
from oracle.errors import BundleError, ExecutionError, FetchError, OracleError
from oracle.fetch import fetch_bundle
from oracle.ingest import Ingest
from oracle.prove import commitment_of, sign_completion
from oracle.schedule import decide, estimate_cost
from oracle.settings import Settings
from oracle.submit import Submitter

log = logging.getLogger("oracle.node")

# IJobMarket.JobStatus / ReplicaState
NONE, OPEN, RUNNING, REVEALING, ACCEPTED, PAID, CANCELLED, EXPIRED, FAILED, OVERTURNED = range(10)
TERMINAL = {PAID, CANCELLED, EXPIRED, FAILED, OVERTURNED}
R_NONE, R_CLAIMED, R_COMMITTED, R_REVEALED = range(4)
STATUS_NAMES = ["none", "open", "running", "revealing", "accepted", "paid", "cancelled", "expired", "failed", "overturned"]
RPC_ERRORS = (RequestsConnectionError, RequestsTimeout, ConnectionError, TimeoutError)


def _job_view(raw: Any) -> dict[str, Any]:
    keys = ["payment", "collateral", "deadline", "status", "k", "round", "client", "requirements", "bundleHash",
            "claims", "commits", "reveals", "replicaCount", "claimWindow", "executionWindow", "revealWindow",
            "disputeWindow", "resultHash", "disputer"]
    return dict(zip(keys, raw, strict=True))


def _node_view(raw: Any) -> dict[str, Any]:
    keys = ["operator", "status", "jailedUntil", "capabilities", "stake", "locked", "unbonding",
            "unbondingReleaseAt", "completed", "failed", "slashed"]
    return dict(zip(keys, raw, strict=True))


class Node:
    def __init__(self, settings: Settings, *, key=None, backend=None):
        self.s = settings
        self.chain = Chain.connect(settings.rpc_url, settings.deployment)
        self.store = st.Store(settings.db_path)
        self.key = key or load_operator_key(settings.account, settings.passphrase())
        self.submitter = Submitter(
            self.chain, self.store, self.key, batch_size=settings.batch_size, tx_timeout_s=settings.tx_timeout_s,
            fee_bump=settings.fee_bump, max_attempts=settings.max_retries, on_gas=lambda kind, gas: metrics.GAS.labels(kind).inc(gas),
        )
        start = settings.start_block if settings.start_block is not None else self.chain.deployment_block
        self.ingest = Ingest(self.chain, self.store, settings.confirmations, settings.reorg_depth, start)
        self.backend = backend or self._make_backend()
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="job")
        self.running: dict[int, Future] = {}
        self.started: dict[tuple[int, str], float] = {}
        self._stop = False
        self._hb_epoch: int | None = None
        self._announce: str | None = None
        self._nodes: dict[int, dict[str, Any]] = {}
        self._owners: set[str] = set()
        self._reset_views()
        from oracle.results import ResultStore

        self.results = ResultStore(settings.results_dir)
        for d in (settings.work_dir, settings.results_dir):
            d.mkdir(parents=True, exist_ok=True)

    def _make_backend(self):
        from oracle.execute import make_backend

        return make_backend(self.s)

    # ---------------------------------------------------------------- the loop
    def run(self, max_seconds: float | None = None, until=None) -> None:
        log.info("node %s serving %s on %s (backend %s)", self.key.address, self.s.node_ids or "all bound nodes",
                 self.s.rpc_url, self.s.backend)
        deadline = time.monotonic() + max_seconds if max_seconds else None
        backoff = self.s.poll_interval_s
        recovered = False
        while not self._stop:
            try:
                if not recovered:
                    self.submitter.recover()
                    self.reconcile()
                    recovered = True
                self.step()
                backoff = self.s.poll_interval_s
            except RPC_ERRORS as err:
                log.warning("RPC unreachable (%s); retrying in %.1fs", type(err).__name__, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except Exception:  # noqa: BLE001 (a node keeps serving; the traceback is in the log)
                log.exception("step failed; retrying in %.1fs", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if until is not None and until(self):
                break
            if deadline and time.monotonic() > deadline:
                break
            time.sleep(self.s.poll_interval_s)

    def stop(self) -> None:
        self._stop = True

    def step(self) -> None:
        self._reset_views()
        for ev in self.ingest.poll():
            self._on_event(ev)
        self._refresh_nodes()
        if self._announce and self._nodes:
            for node_id in sorted(self._nodes):
                self.store.add_intent("announce", None, node_id, {"url": self._announce})
            self._announce = None
        self._drive_all(self.store.active_jobs())
        self._heartbeat()
        self._reset_views()  # flush must judge intents on the chain as it is now
        self.submitter.flush(self._still_needed)
        touched = self.submitter.touched
        if touched:
            # Our transactions just changed these jobs on chain (claim mined, proof committed): take
            # the next stage now (start the execution, queue the reveal) rather than one poll later,
            # and send what that produced in the same step.
            self._reset_views()
            self._drive_all([j for j in self.store.active_jobs() if j["job_id"] in touched])
            self._reset_views()
            self.submitter.flush(self._still_needed)
        metrics.JOBS_BY_STAGE.clear()
        for stage, n in self.store.stage_counts().items():
            metrics.JOBS_BY_STAGE.labels(stage).set(n)

    def _drive_all(self, jobs: list[dict[str, Any]]) -> None:
        for job in jobs:
            # Drive again while the job advances: the views cached for this step stay true until
            # flush sends our intents, so a job goes e.g. claimed -> running or executed -> proving
            # in one step instead of one stage per poll.
            for _ in range(8):
                try:
                    self.drive(job)
                except RPC_ERRORS:
                    raise
                except OracleError as err:
                    self._finish(job["job_id"], st.FAILED, str(err))
                    break
                except Exception:  # noqa: BLE001 (one job's surprise must not stall the others)
                    log.exception("job %d: step failed; will retry", job["job_id"])
                    break
                after = self.store.job(job["job_id"])
                if after is None or after["stage"] == job["stage"] or after["stage"] in st.TERMINAL:
                    break
                job = after

    def _heartbeat(self) -> None:
        """Proves liveness once per rewards epoch for every active node we run (availability share).
        Repeating one after a restart is harmless: the contract counts a node once per epoch."""
        epoch = self.chain.rewards.functions.currentEpoch().call()
        active = sorted(i for i, n in self._nodes.items() if n["status"] == 1)
        if epoch != self._hb_epoch and active:
            self.store.add_intent("heartbeat", None, None, {"node_ids": active, "epoch": epoch})
            self._hb_epoch = epoch

    def announce(self, url: str) -> None:
        """Publishes `url` on chain (NodeRegistry.EndpointAnnounced) for every node we run, so
        clients find where to fetch their results."""
        self._announce = url

    def result_lookup(self, job_id: int):
        """For the results endpoint: the job's client and our stored result archive, if any."""
        job = self.store.job(job_id)
        try:
            # Uncached: this runs on the HTTP server's thread, outside the loop's steps.
            client = _job_view(self.chain.market.functions.job(job_id).call())["client"]
        except Exception:  # noqa: BLE001 (unknown job or RPC down: nothing to serve)
            return None, None
        if not job or not job["result_hash"]:
            return client, None
        return client, self.results.archive(bytes.fromhex(job["result_hash"]))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    def reconcile(self) -> None:
        """On start: every job the store thinks is in flight is re-read from the chain."""
        for job in self.store.active_jobs():
            view = self._job(job["job_id"])
            if view["status"] in TERMINAL:
                self._finish(job["job_id"], st.DONE, f"settled on chain while away: {STATUS_NAMES[view['status']]}")
            elif job["stage"] == st.RUNNING:
                # The execution died with the old process: run it again (results are deterministic).
                self.store.upsert_job(job["job_id"], stage=st.CLAIMED)

    # ---------------------------------------------------------------- per job
    def _on_event(self, ev) -> None:
        if ev.name == "JobCreated":
            if self.store.job(ev.job_id) is None:
                self.store.upsert_job(
                    ev.job_id, stage=st.SEEN, bundle_hash=bytes(ev.args["bundleHash"]).hex(),
                    bundle_uri=ev.args["bundleUri"], replicas=int(ev.args["replicas"]),
                    payment=str(ev.args["payment"]), created_block=ev.block,
                )
                self._mark(ev.job_id, "seen")
        elif ev.name == "JobDisputed":
            job = self.store.job(ev.job_id)
            if job and job["stage"] in st.TERMINAL and job["node_id"] is None:
                self.store.upsert_job(ev.job_id, stage=st.SEEN, reason=None)  # a re-run we may take
        elif ev.name == "Credited" and ev.args["account"].lower() in self._owners:
            metrics.EARNINGS.inc(int(ev.args["amount"]))

    def drive(self, job: dict[str, Any]) -> None:
        job_id, stage = job["job_id"], job["stage"]
        view = self._job(job_id)
        mine = self._my_replica(job_id, view)
        node_id = mine[0] if mine else job["node_id"]
        rep = mine[1] if mine else None

        if view["status"] in TERMINAL:
            outcome = STATUS_NAMES[view["status"]]
            self._finish(job_id, st.DONE if rep else st.SKIPPED, outcome)
            return
        past = time.time() > view["deadline"] and self._chain_time() > view["deadline"]
        if rep is not None and past and view["status"] in (OPEN, RUNNING, REVEALING):
            self._intent_once("expire", job_id, node_id, {})  # frees our collateral; the keeper bounty is ours

        if stage == st.SEEN and rep is not None and rep["round"] == view["round"]:
            # Our claim is on chain but the stage never said so (a crash between recording the claim
            # intent and the stage): run it, never skip a replica we hold.
            self._advance(job_id, st.CLAIMED, node_id=node_id)
        elif stage == st.SEEN:
            self._consider(job, view)
        elif stage == st.CLAIMING:
            if rep is not None:
                self._advance(job_id, st.CLAIMED, node_id=node_id)
            elif view["status"] != OPEN or self.store.intents_failed("claim", job_id):
                self._finish(job_id, st.SKIPPED, "claim not obtained")
        elif stage == st.CLAIMED:
            self._start_execution(job)
        elif stage == st.RUNNING:
            self._collect_execution(job, view, node_id)
        elif stage == "executed":
            self._maybe_prove(job, view, node_id)
        elif stage in (st.PROVING, st.PROVEN, st.REVEALED):
            self._after_proof(job, view, node_id, rep)

    def _consider(self, job: dict[str, Any], view: dict[str, Any]) -> None:
        job_id = job["job_id"]
        replicas, operators = self._replica_sets(job_id, view)
        # Claims in flight or held but not yet executing count against the workers, plus a small
        # prefetch: enough that a worker never idles waiting for the next claim to be mined, but not
        # every open job at once (each claim locks collateral and starts its execution window).
        stages = self.store.stage_counts()
        held = len(self.running) + stages.get(st.CLAIMING, 0) + stages.get(st.CLAIMED, 0)
        free = self.s.workers + self.s.claim_prefetch - held
        gas_price = self._per_step("gas_price", lambda: self.chain.w3.eth.gas_price)
        manifest_cpu_s = 60.0  # refined after fetch, from the manifest's time limit
        cost = estimate_cost(gas_price, self.s.gas_limit_estimate, manifest_cpu_s, self.s.compute_price_per_cpu_s)
        fee_bps = self._fee_bps()
        d = decide(view, self._nodes, replicas, operators, self.key.address, free, fee_bps, cost, self.s.min_margin)
        if not d.take:
            if view["status"] != OPEN:
                self._finish(job_id, st.SKIPPED, d.reason)
            elif d.reason != "no free worker":
                self._finish(job_id, st.SKIPPED, d.reason)
            return
        # Fetch and check the bundle before locking any collateral for it.
        work = self.s.work_dir / str(job_id)
        try:
            data = fetch_bundle(job["bundle_uri"], bytes(view["bundleHash"]), self.s.max_bundle_mb * 2**20)
            shutil.rmtree(work, ignore_errors=True)
            manifest = bundles.unpack(data, work / "bundle", self.s.max_bundle_mb * 2**20 * 4)
        except (FetchError, BundleError) as err:
            log.warning("job %d refused: %s", job_id, err)
            self._finish(job_id, st.SKIPPED, f"refused: {err}")
            return
        try:
            self.backend.check(manifest.resources)
        except ExecutionError as err:
            log.warning("job %d refused: %s", job_id, err)
            self._finish(job_id, st.SKIPPED, f"refused: {err}")
            return
        if self.store.add_intent("claim", job_id, d.node_id, {}) is not None:
            self._advance(job_id, st.CLAIMING, node_id=d.node_id)

    def _start_execution(self, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        if job_id in self.running:
            return
        work = self.s.work_dir / str(job_id)
        if not (work / "bundle" / bundles.MANIFEST).exists():
            view = self._job(job_id)
            data = fetch_bundle(job["bundle_uri"], bytes(view["bundleHash"]), self.s.max_bundle_mb * 2**20)
            shutil.rmtree(work, ignore_errors=True)
            bundles.unpack(data, work / "bundle", self.s.max_bundle_mb * 2**20 * 4)
        manifest = bundles.load_manifest(work / "bundle")
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        self.running[job_id] = self.pool.submit(self.backend.run_bundle, job_id, work / "bundle", manifest, out)
        self._advance(job_id, st.RUNNING)

    def _collect_execution(self, job: dict[str, Any], view: dict[str, Any], node_id: int) -> None:
        job_id = job["job_id"]
        fut = self.running.get(job_id)
        if fut is None:
            self.store.upsert_job(job_id, stage=st.CLAIMED)
            return
        if not fut.done():
            return
        del self.running[job_id]
        result = fut.result()
        # A job that fails inside the sandbox still has a deterministic result (its status file
        # and partial outputs), which replicas can agree on; the reason is logged for the operator.
        if result.status != "ok":
            log.warning("job %d finished %s: %s", job_id, result.status, result.reason)
        result_hash = bytes(result.result_hash)
        self.results.put(result.output_dir, result_hash)
        salt = secrets.token_bytes(32)
        self.store.upsert_job(job_id, stage="executed", result_hash=result_hash.hex(), salt=salt.hex(),
                              reason=None if result.status == "ok" else f"{result.status}: {result.reason}")
        self._mark(job_id, "executed", f"{result.status} on the {result.backend} backend in {result.elapsed_s:.2f}s")
        self._maybe_prove(self.store.job(job_id), view, node_id)

    def _maybe_prove(self, job: dict[str, Any], view: dict[str, Any], node_id: int) -> None:
        if view["status"] != RUNNING:
            return  # other replicas have not all claimed yet
        job_id = job["job_id"]
        result = bytes.fromhex(job["result_hash"])
        optimistic = view["k"] == 1 and view["round"] == 0
        commitment = result if optimistic else commitment_of(job_id, node_id, result, bytes.fromhex(job["salt"]))
        sig = sign_completion(self.key.key, self.chain.chain_id, self.chain.market.address, job_id, node_id, commitment)
        self.store.add_intent("proof", job_id, node_id, {"commitment": commitment.hex(), "signature": sig.hex()})
        self._advance(job_id, st.PROVING)

    def _after_proof(self, job: dict[str, Any], view: dict[str, Any], node_id: int, rep) -> None:
        job_id = job["job_id"]
        state = rep["state"] if rep else R_NONE
        if job["stage"] == st.PROVING and state >= R_COMMITTED:
            self._advance(job_id, st.PROVEN)
        if view["status"] == REVEALING and state == R_COMMITTED and rep["round"] == view["round"]:
            payload = {"result": job["result_hash"], "salt": job["salt"]}
            if self.store.add_intent("reveal", job_id, node_id, payload) is not None:
                self._advance(job_id, st.REVEALED)
        if view["status"] == ACCEPTED and self._chain_time() > view["deadline"]:
            self._intent_once("finalize", job_id, node_id, {})

    # ---------------------------------------------------------------- submit gatekeeping
    def _still_needed(self, intent: st.Intent) -> bool:
        if intent.job_id is None:
            return True  # heartbeats: the contract ignores a repeat
        view = self._job(intent.job_id)
        if intent.kind == "claim":
            return view["status"] == OPEN and self._my_replica(intent.job_id, view) is None
        rep = self._my_replica(intent.job_id, view)
        if intent.kind == "proof":
            return view["status"] == RUNNING and rep is not None and rep[1]["state"] == R_CLAIMED
        if intent.kind == "reveal":
            return view["status"] == REVEALING and rep is not None and rep[1]["state"] == R_COMMITTED
        if intent.kind == "finalize":
            return view["status"] == ACCEPTED
        if intent.kind == "expire":
            return view["status"] in (OPEN, RUNNING, REVEALING)
        return True

    # ---------------------------------------------------------------- chain views
    # Views are cached for one phase of a step (cleared by _reset_views before and after each flush):
    # within a phase only our store changes, never the chain by our hand, so re-reading the same job,
    # replica, block time or parameter for every job in flight only costs round trips.
    def _reset_views(self) -> None:
        self._views: dict[Any, Any] = {}

    def _per_step(self, key: Any, read):
        views = self._views
        if key not in views:
            views[key] = read()
        return views[key]

    def _job(self, job_id: int) -> dict[str, Any]:
        return self._per_step(("job", job_id), lambda: _job_view(self.chain.market.functions.job(job_id).call()))

    def _replica(self, job_id: int, i: int):
        return self._per_step(("replica", job_id, i), lambda: self.chain.market.functions.replica(job_id, i).call())

    def _my_replica(self, job_id: int, view: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Our latest replica of the job, as (node id, replica view)."""
        found = None
        for i in range(view["replicaCount"]):
            node_id, state, rnd, operator, commitment = self._replica(job_id, i)
            if operator.lower() == self.key.address.lower():
                found = (node_id, {"state": state, "round": rnd, "commitment": commitment})
        return found

    def _replica_sets(self, job_id: int, view: dict[str, Any]) -> tuple[set[int], set[str]]:
        nodes, ops = set(), set()
        for i in range(view["replicaCount"]):
            node_id, _, _, operator, _ = self._replica(job_id, i)
            nodes.add(node_id)
            ops.add(operator.lower())
        return nodes, ops

    def _refresh_nodes(self) -> None:
        reg = self.chain.registry
        ids = self.s.node_ids or self._bound_nodes()
        self._nodes = {i: _node_view(reg.functions.node(i).call()) for i in ids}
        self._nodes = {i: n for i, n in self._nodes.items() if n["operator"].lower() == self.key.address.lower()}
        self._owners = {reg.functions.ownerOfNode(i).call().lower() for i in self._nodes}

    def _bound_nodes(self) -> list[int]:
        lic = self.chain.contract("NodeLicense")
        total = lic.functions.totalMinted().call()
        reg = self.chain.registry
        return [i for i in range(1, total + 1) if reg.functions.operatorOf(i).call().lower() == self.key.address.lower()]

    def _fee_bps(self) -> int:
        return self._per_step("fee_bps", lambda: int(self.chain.market.functions.parameters().call()[0]))

    def _chain_time(self) -> int:
        return self._per_step("time", lambda: int(self.chain.w3.eth.get_block("latest")["timestamp"]))

    # ---------------------------------------------------------------- bookkeeping
    def _intent_once(self, kind: str, job_id: int, node_id: int | None, payload: dict[str, Any]) -> None:
        if not self.store.has_open_intent(kind, job_id):
            self.store.add_intent(kind, job_id, node_id, payload)

    def _advance(self, job_id: int, stage: str, **fields: Any) -> None:
        self.store.upsert_job(job_id, stage=stage, **fields)
        self._mark(job_id, stage)

    def _finish(self, job_id: int, stage: str, reason: str) -> None:
        earlier = (self.store.job(job_id) or {}).get("reason")
        if earlier and earlier not in reason:
            reason = f"{reason} ({earlier})"  # keep why the run failed next to how it settled
        self.store.upsert_job(job_id, stage=stage, reason=reason)
        self._mark(job_id, stage, reason)
        shutil.rmtree(self.s.work_dir / str(job_id), ignore_errors=True)

    def _mark(self, job_id: int, stage: str, reason: str | None = None) -> None:
        now = time.monotonic()
        first = self.started.setdefault((job_id, "seen"), now)
        prev = max((t for (j, _), t in self.started.items() if j == job_id), default=now)
        self.started[(job_id, stage)] = now
        metrics.STAGE_SECONDS.labels(stage).observe(now - prev)
        log.info("job %d %s%s (+%.2fs, %.2fs since seen)", job_id, stage, f": {reason}" if reason else "",
                 now - prev, now - first)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
