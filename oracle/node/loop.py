"""The node: ties the stages together in one loop.

    ingest (events) -> schedule -> fetch -> claim -> execute -> prove -> submit -> reveal/finalize

Each job's progress is a `stage` row in the store, and every step first asks the chain where the
job really is, so a restart (or `kill -9`) resumes from the chain's truth: a claimed job is run
again (deterministically, giving the same result), a committed job is revealed with the salt that
was stored before the commitment was sent, and a sent transaction is looked up by its hash.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout

from oracle.core.chain import Chain, load_operator_key
from oracle.core.errors import (
    ConfigError,
    OracleError,
)
from oracle.core.protocol import Job, JobStatus, JobTerms, Seat, job_hex
from oracle.core.prove import commitment_of
from oracle.core.tree import remove_tree
from oracle.node import flow, metrics, quoting, release
from oracle.node import store as st
from oracle.node.execution import Executions
from oracle.node.ingest import Ingest
from oracle.node.intake import Intake
from oracle.node.licences import Licences
from oracle.node.quoting import QuoteDesk
from oracle.node.release import ResultOffer
from oracle.node.settings import Settings, take_env
from oracle.node.submit import Submitter
from oracle.node.view import StepView

log = logging.getLogger("oracle.node.loop")

RPC_ERRORS = (RequestsConnectionError, RequestsTimeout, ConnectionError, TimeoutError)
RUN_STAGES = (st.RUNNING, st.CLAIMED)  # what a step without a poll moves: runs to collect, start
# Events that can put one of our nodes into a job the store has given up on (or not yet looked at
# again): a draw, a re-anchored draw, a dispute that seats a jury.
WAKE_EVENTS = {"DrawAnchored", "SeatDrawn", "JobDisputed"}


def _exclusive(path: Path, what: str):
    """An open file holding an exclusive flock on `path` (released when closed or the process
    dies), or ConfigError if another process holds it."""
    f = open(path, "a+")  # noqa: SIM115 (held for the node's lifetime)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise ConfigError(
            f"another tes-node is already running with this {what} (lock {path})"
        ) from None
    return f


class Node:
    def __init__(self, settings: Settings, *, key=None, backend=None):
        self.s = settings
        self.chain = Chain.connect(settings.rpc_url, settings.deployment)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._locks = [
            _exclusive(settings.data_dir / "node.lock", f"data directory {settings.data_dir}")
        ]
        self.store = st.Store(settings.db_path)
        self.key = key or load_operator_key(settings.account, settings.passphrase())
        # Read once: children (Ray workers, nvidia-smi, sandboxed jobs' launchers) never inherit it.
        take_env("TES_PASSPHRASE")
        # Two processes sending with one key would race for its nonces and double every intent.
        key_lock = Path(tempfile.gettempdir()) / f"tes-node-{self.key.address.lower()}.lock"
        self._locks.append(_exclusive(key_lock, f"operator key {self.key.address}"))
        self.submitter = Submitter(
            self.chain,
            self.store,
            self.key,
            batch_size=settings.batch_size,
            tx_timeout_s=settings.tx_timeout_s,
            fee_bump=settings.fee_bump,
            max_attempts=settings.max_retries,
            on_gas=lambda kind, gas: metrics.GAS.labels(kind).inc(gas),
            max_fee_wei=int(settings.max_fee_gwei * 10**9),
            confirmations=settings.confirmations,
            latest=lambda: self.view.latest(),
        )
        start = (
            settings.start_block
            if settings.start_block is not None
            else self.chain.deployment_block
        )
        self.ingest = Ingest(
            self.chain, self.store, settings.confirmations, settings.reorg_depth, start
        )
        self.backend = backend or self._make_backend()
        self.executions = Executions(settings, self.backend)
        # Bundle fetches and preflights (_bundle_ok), off the loop; job id -> its pending intake.
        self.intake = Intake(self)  # whether to take a job, off the loop (oracle/node/intake.py)
        self.clock = metrics.StageClock()  # each live job's step times (the log, the histogram)
        self._stop = False
        self._run_ended = (
            threading.Event()
        )  # set when an execution ends: step before the poll is due
        self.executions.on_done = self._run_ended.set
        self._announce: str | None = None
        self._consented = False
        self.fee_bps: int | None = None  # the market's protocol fee: read once, then from events
        self._created_in: dict[Any, str] = {}
        # Per-step answers from the chain (oracle/node/view.py), with each job's terms from the store.
        self.view = StepView(self.chain, terms=self._terms)
        self.licences = Licences(
            self.chain, self.key.address, settings.node_ids, settings.reorg_depth,
            head=self.view.block_number,
        )  # fmt: skip
        from oracle.core.results import ResultStore
        from oracle.node.retention import Retention

        self.results = ResultStore(settings.results_dir)
        for d in (settings.work_dir, settings.results_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.retention = Retention(self.store, self.results, settings.result_retention_s,
                                   settings.result_retention_mb * 2**20)  # fmt: skip
        # Quotes (POST /quote): signed on the HTTP threads from the snapshot each step publishes.
        self.quotes: QuoteDesk | None = None
        if settings.quotes:
            self.quotes = QuoteDesk(
                self.key, lambda: self.chain.chain_id, self.chain.market.address, settings.quote_ttl_s,
                settings.min_margin, self.intake.cost_at,
                lambda spec, window, work, fetch: self.executions.prepare(0, spec, window, work, fetch),
                settings.work_dir, kept=settings.workers + settings.quote_queue,
            )  # fmt: skip

    def _make_backend(self):
        from oracle.execute import make_backend

        return make_backend(self.s)

    # ---------------------------------------------------------------- the loop
    def run(self, max_seconds: float | None = None, until=None) -> None:
        log.info(
            "node %s serving %s on %s (backend %s)",
            self.key.address,
            self.s.node_ids or "all bound nodes",
            self.s.rpc_url,
            self.s.backend,
        )
        deadline = time.monotonic() + max_seconds if max_seconds else None
        backoff = self.s.poll_interval_s
        recovered = False
        polled = 0.0  # when the last step that read the chain started
        while not self._stop:
            # A run that ended before the next poll is due is collected by a step that reads and
            # sends nothing (the last poll's head, events and licences, a fraction of a poll old,
            # stand): a finished run frees its worker at once and costs no request of its own.
            poll = (
                not self._run_ended.is_set() or time.monotonic() - polled >= self.s.poll_interval_s
            )
            self._run_ended.clear()  # before the step: a run ending during it wakes the next at once
            try:
                if not recovered:
                    self.submitter.recover()
                    self.reconcile()
                    recovered = True
                if poll:
                    polled = time.monotonic()
                self.step(poll)
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
            self._run_ended.wait(max(polled + self.s.poll_interval_s - time.monotonic(), 0.0))

    def stop(self) -> None:
        self._stop = True

    def step(self, poll: bool = True) -> None:
        """Reads what changed on chain, moves every job as far as it allows, sends what that needs.
        Without `poll` (a run ended between polls) runs are only collected and started: a worker is
        freed and filled at once; the proof goes with the next poll's flush, batched."""
        if not poll:
            self.view.reset(head=False)
            self._drive_all([j for j in self.store.active_jobs() if j["stage"] in RUN_STAGES])
            quoting.publish_snapshot(self)  # a worker freed: quotes may be given again at once
            return
        self._poll()
        self._drive_all(self.store.active_jobs())
        beat = self.licences.heartbeat_due(self.view.chain_time())
        if beat is not None:  # liveness, once per rewards epoch (the availability share)
            self.store.add_intent(st.IntentKind.HEARTBEAT, None, None, beat)
        self._flush()
        touched = self.submitter.touched
        if touched:
            # Our transactions just changed these jobs on chain (claim mined, proof committed): take
            # the next stage now (start the execution, queue the reveal) rather than one poll later,
            # and send what that produced in the same step.
            self.view.reset(head=False)
            self._learn(touched)
            if self.licences.bound_in(self.submitter.receipts):
                self.licences.refresh()  # an accepted binding makes a node ours
            self._drive_all([j for j in self.store.active_jobs() if j["job_id"] in touched])
            self._flush()
            self._learn(self.submitter.touched)
        self.retention.maybe_prune()  # every few minutes; store and disk only, no chain calls
        quoting.publish_snapshot(self)
        metrics.JOBS_BY_STAGE.clear()
        for stage, n in self.store.stage_counts().items():
            metrics.JOBS_BY_STAGE.labels(stage).set(n)

    def _poll(self) -> None:
        """The chain's news since the last poll: its head, events, our licences, new bindings."""
        self.view.reset()
        reorgs = self.ingest.reorgs
        events = self.ingest.poll(self.view.latest())
        if self.ingest.reorgs != reorgs:
            self.view.forget_all()
            self.licences.read_at = None
        # New k = 1 jobs are built from their events; others changed on chain are read again.
        self.view.follow(events, self.submitter.ours)
        if self.licences.stale(events, self.store):
            self.licences.refresh()  # before the events: they are judged against the nodes we serve
        self._created_in = {}  # tx hash -> client, for this poll's events
        for ev in events:
            self._on_event(ev)
        if not self._consented:
            # Two-step binding: a licence the operator named (`--node-id`) whose owner proposed
            # this key is accepted; running someone's node is a decision, never a side effect.
            for node_id in self.licences.proposed_to_us():
                if not self.store.has_pending_intent(st.IntentKind.ACCEPT_OPERATOR, None, node_id):
                    log.info("node %d proposed this key as its operator: accepting", node_id)
                    self.store.add_intent(st.IntentKind.ACCEPT_OPERATOR, None, node_id, {})
            self._consented = True
        if self._announce and self.licences.records:
            quoting.publish_snapshot(self)  # before the endpoint is announced: it can quote at once
            for node_id in sorted(self.licences.records):
                self.store.add_intent(
                    st.IntentKind.ANNOUNCE, None, node_id, {"url": self._announce}
                )
            self._announce = None

    def _flush(self) -> None:
        """Sends what is pending, each intent judged by `_still_needed` first."""
        self.view.reset(head=False)
        # Pending intents are judged on the view they were made from (kept views follow every
        # event ingested; and the estimate before each send is the chain's own check). Sent and
        # mined ones may go back to pending inside the flush (no receipt; a reorg removed their
        # block, which ingest, `confirmations` behind, may not have seen): their jobs are read again.
        self.view.forget(
            i.job_id for i in self.store.intents(st.IntentStatus.SENT, st.IntentStatus.MINED)
        )
        self.submitter.flush(self._still_needed)

    def _learn(self, touched: set[int]) -> None:
        """Our transactions for these jobs settled: their receipts' events move the kept views
        (flow.advance); a job they do not explain (a revert, someone else's change, an event not
        followed) is read again when next asked."""
        events: dict[int, list[tuple[str, dict]]] = {}
        for receipt in self.submitter.receipts:
            for ev in self.ingest.decode(receipt["logs"]):
                events.setdefault(ev.job_id, []).append((ev.name, ev.args))
        for job_id in touched:
            if job_id not in events or not self.view.learn(job_id, events[job_id]):
                self.view.forget([job_id])

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
                except Exception as err:  # noqa: BLE001 (one job's surprise must not stall the others)
                    log.exception("job %s: step failed; will retry", job["job_id"])
                    self.intake.failed(job, err)
                    break
                self.intake.succeeded(job["job_id"])
                after = self.store.job(job["job_id"])
                if after is None or after["stage"] == job["stage"] or after["stage"] in st.TERMINAL:
                    break
                job = after

    def _terms(self, job_id: int) -> JobTerms | None:
        """The job's terms as the store keeps them, checked against the id; None if it has none or
        they were changed on disk (logged: the store is then not to be trusted for this job)."""
        try:
            return self.store.terms(job_id)
        except ConfigError as err:
            log.error("job %s: %s", job_hex(job_id), err)
            return None

    def announce(self, url: str) -> None:
        """Publishes `url` on chain (NodeRegistry.EndpointAnnounced) for every node we run, so
        clients find where to fetch their results."""
        self._announce = url

    def result_lookup(self, job_id: int) -> ResultOffer | None:
        """For the results endpoint (runs on the HTTP server's thread, so uncached): what may be
        released to the job's client (oracle/node/release.py), or None for a job the chain does not
        know."""
        try:
            view = Job.from_raw(self.chain.market.functions.job(job_id).call())
        except Exception:  # noqa: BLE001 (unknown job or RPC down: nothing to serve)
            return None
        if view.status == JobStatus.NONE:
            return None
        terms = self._terms(job_id)  # the client the result is released to is a term
        if terms is not None:
            view = view.with_terms(terms)
        return release.offer(
            view,
            self.store.job(job_id),
            lambda node_id: self._seat_index(job_id, node_id, view.replicaCount) == 0,
            self.results,
            self.s.result_retention_s,
        )

    def _seat_index(self, job_id: int, node_id: int, count: int) -> int | None:
        for i in range(count):
            if (
                Seat.from_raw(self.chain.market.functions.replica(job_id, i).call()).nodeId
                == node_id
            ):
                return i
        return None

    def close(self) -> None:
        self.executions.close()
        self.intake.close()
        self.store.close()
        for lock in self._locks:
            lock.close()  # releases the flock

    def reconcile(self) -> None:
        """On start: every job the store thinks is in flight is re-read from the chain."""
        for job in self.store.active_jobs():
            view = self.view.job(job["job_id"])
            if view.status.terminal:
                self._finish(
                    job["job_id"], st.DONE, f"settled on chain while away: {view.status.label}"
                )
            elif job["stage"] == st.RUNNING:
                # The execution died with the old process: run it again (results are deterministic).
                self.store.upsert_job(job["job_id"], stage=st.CLAIMED)

    # ---------------------------------------------------------------- per job
    def _on_event(self, ev) -> None:
        if ev.name == "JobCreated":
            self.fee_bps = int(ev.args["protocolFeeBps"])  # the market's rate now
            self._created_in[ev.tx_hash] = str(ev.args["client"])
            if self.store.job(ev.job_id) is None and ev.terms is not None:
                self.store.add_job(ev.job_id, ev.terms, ev.args["bundleUri"], ev.block)
                self._mark(ev.job_id, st.SEEN)
        elif ev.name in WAKE_EVENTS:
            self._wake(ev)
        elif ev.name == "JobClaimed":
            node_id, client = int(ev.args["nodeId"]), self._created_in.get(ev.tx_hash)
            if node_id not in self.licences and int(ev.args["round"]) == 0:
                self._taken_by_other(ev.job_id, node_id)
            elif client is not None and self.quotes is not None:  # createAndAssign: our quote's job
                self.intake.quoted(ev.job_id, self.quotes.used(client, node_id))
        elif ev.name == "EarningsCredited" and int(ev.args["nodeId"]) in self.licences:
            metrics.EARNINGS.inc(int(ev.args["amount"]))

    def _taken_by_other(self, job_id: int, node_id: int) -> None:
        """A k = 1 job we only watch was taken by another node in its first round (its claim, or a
        quote it signed): nothing is left for us, and the event says so without reading the job. A
        dispute wakes it again (`_wake`); a juror's accepted seat (round >= 1) never skips it, or
        the other drawn jurors still deciding would drop their seats."""
        job = self.store.job(job_id)
        if job is not None and job["stage"] == st.SEEN and job["replicas"] == 1:
            self._finish(job_id, st.SKIPPED, f"taken by node {node_id}")

    def _wake(self, ev) -> None:
        """A job we skipped may need us again: a dispute draws a jury (we may be drawn, or keep the
        draw moving), a seat was drawn for one of our nodes. Only a row we gave up on is reset; a job
        we hold a seat in (the disputed k = 1 original) keeps its stage, result and salt."""
        job = self.store.job(ev.job_id)
        if job is None or job["stage"] != st.SKIPPED:
            return
        ours = ev.name == "SeatDrawn" and int(ev.args["nodeId"]) in self.licences
        if ev.name in ("JobDisputed", "DrawAnchored") or ours:
            self.store.upsert_job(ev.job_id, stage=st.SEEN, node_id=None, reason=None)
            self._mark(ev.job_id, st.SEEN, f"woken by {ev.name}")

    def drive(self, job: dict[str, Any]) -> None:
        job_id, stage = job["job_id"], job["stage"]
        view = self.view.job(job_id)
        mine = self.view.my_seat(job_id, view, self.licences.records)
        node_id = mine[0] if mine else job["node_id"]
        seat = mine[1] if mine else None
        holds = seat is not None and seat.state.holds_collateral

        lost = stage == st.CLAIMING and not holds and self._seat_lost(job_id)
        moved = flow.on_chain(stage, view, seat, lost)
        if view.status.terminal and moved is not None:
            self._finish(job_id, moved.stage, moved.reason or "")
            return
        # A deadline is past only by both clocks: the chain's (what the contract checks) and ours
        # (an idle local chain's time stands still until the next block).
        if holds and time.time() > view.deadline and flow.expire_due(view, self.view.now()):
            # Frees our collateral (the keeper bounty is ours). Running with commits, or a dispute,
            # moves on to Revealing rather than ending: the next deadline gets its own expire.
            self._intent_again(st.IntentKind.EXPIRE, job_id, node_id, {})
        if view.status == JobStatus.SEATING:
            self._keep_draw_moving(job_id, view)

        if moved is not None and moved.stage == st.CLAIMED:
            # Our seat is on chain (a crash between recording the intent and the stage, or the
            # claim just mined): run it, never abandon a seat we hold.
            self._advance(job_id, st.CLAIMED, node_id=node_id)
        elif moved is not None and moved.stage == st.SKIPPED:
            self._finish(job_id, st.SKIPPED, moved.reason or "")
        elif stage == st.SEEN:
            self.intake.consider(job, view, mine)
        elif stage == st.CLAIMED:
            self._start_execution(job)
        elif stage == st.RUNNING:
            self._collect_execution(job, view, node_id)
        elif stage == st.EXECUTED:
            self._maybe_prove(job, view, node_id)
        elif stage in (st.PROVING, st.PROVEN, st.REVEALED):
            self._after_proof(job, view, node_id, seat)

    def _seat_lost(self, job_id: int) -> bool:
        return self.store.intents_failed(st.IntentKind.CLAIM, job_id) or self.store.intents_failed(
            st.IntentKind.ACCEPT, job_id
        )

    def _keep_draw_moving(self, job_id: int, view: Job) -> None:
        """Keeper work anyone may do for a Seating job, seated in it or not: draw once the anchor
        block is mined, and redraw seats whose node let its accept deadline pass."""
        now = self.view.now()
        if flow.draw_due(view, now):
            self._intent_again(st.IntentKind.DRAW, job_id, None, {})
        if flow.late_seats(view, self.view.seats(job_id, view), now):
            self._intent_again(st.IntentKind.REDRAW, job_id, None, {})

    def _start_execution(self, job: dict[str, Any]) -> None:
        if not self.executions.is_running(job["job_id"]):
            self.executions.start(job)
            self._advance(job["job_id"], st.RUNNING)

    def _collect_execution(self, job: dict[str, Any], view: Job, node_id: int) -> None:
        job_id = job["job_id"]
        if not self.executions.is_running(job_id):  # the run died with an earlier process
            self.store.upsert_job(job_id, stage=st.CLAIMED)
            return
        result = self.executions.collect(job_id)
        if result is None:
            return
        if result.result_hash is None or result.output_dir is None:
            # The backend could not run it at all (a node fault, not the job's): run it again.
            log.warning("job %s did not run (%s): running it again", job_id, result.reason)
            self.store.upsert_job(job_id, stage=st.CLAIMED)
            return
        # A job that fails inside the sandbox still has a deterministic result (its status file
        # and partial outputs), which replicas can agree on; the reason is logged for the operator.
        if result.status != "ok":
            log.warning("job %s finished %s: %s", job_id, result.status, result.reason)
        result_hash = bytes(result.result_hash)
        self.results.put(result.output_dir, result_hash)
        # Salt and result are stored before any commitment to them is sent: a node killed after
        # its proof still reveals (and serves) exactly what it committed to.
        salt = secrets.token_bytes(32)
        self.store.upsert_job(
            job_id,
            stage=st.EXECUTED,
            result_hash=result_hash.hex(),
            salt=salt.hex(),
            reason=None if result.status == "ok" else f"{result.status}: {result.reason}",
        )
        self._mark(
            job_id,
            st.EXECUTED,
            f"{result.status} on the {result.backend} backend in {result.elapsed_s:.2f}s",
        )
        self._maybe_prove(self.store.job(job_id) or job, view, node_id)

    def _maybe_prove(self, job: dict[str, Any], view: Job, node_id: int) -> None:
        if view.status != JobStatus.RUNNING:
            return  # the other seats of the round are not all taken yet
        job_id = job["job_id"]
        # Every proof, k = 1 too, carries only a salted commitment: nobody can copy a result off
        # the chain or the mempool. No signature: we send our own proof as the node's operator.
        commitment = commitment_of(
            job_id, node_id, bytes.fromhex(job["result_hash"]), bytes.fromhex(job["salt"])
        )
        self.store.add_intent(
            st.IntentKind.PROOF, job_id, node_id, {"commitment": commitment.hex()}
        )
        self._advance(job_id, st.PROVING)

    def _after_proof(self, job: dict[str, Any], view: Job, node_id: int, seat: Seat | None) -> None:
        job_id = job["job_id"]
        moved = flow.on_chain(job["stage"], view, seat, False)
        if moved is not None and moved.stage == st.PROVEN:
            self._advance(job_id, st.PROVEN)
        if view.status == JobStatus.REVEALING and flow.must_reveal(view, seat):
            payload = {"result": job["result_hash"], "salt": job["salt"]}
            if self.store.add_intent(st.IntentKind.REVEAL, job_id, node_id, payload) is not None:
                self._advance(job_id, st.REVEALED)
        if flow.settle_due(view, self.view.now()) and node_id in self.licences.owner_of:
            # Our own job: settleAndWithdraw pays the owner at once (no keeper bounty taken out of
            # the fee, no withdrawal to send); the submitter batches them per owner.
            self._intent_once(
                st.IntentKind.SETTLE, job_id, node_id, {"owner": self.licences.owner_of[node_id]}
            )

    # ---------------------------------------------------------------- submit gatekeeping
    def _still_needed(self, intent: st.Intent) -> bool:
        if intent.kind == st.IntentKind.ACCEPT_OPERATOR:
            pending = self.chain.registry.functions.pendingOperatorOf(intent.node_id).call()
            return pending.lower() == self.key.address.lower()
        if intent.job_id is None:
            return True  # heartbeats, announcements: the contracts ignore a repeat
        job_id = intent.job_id
        view = self.view.job(job_id)
        seats = lambda: self.view.seats(job_id, view)  # noqa: E731 (read only if a rule needs them)
        return flow.still_needed(
            intent.kind, view, seats, intent.node_id, self.licences.records, self.view.now()
        )

    # ---------------------------------------------------------------- bookkeeping
    def _intent_once(
        self, kind: st.IntentKind, job_id: int, node_id: int | None, payload: dict[str, Any]
    ) -> None:
        if not self.store.has_open_intent(kind, job_id):
            self.store.add_intent(kind, job_id, node_id, payload)

    def _intent_again(
        self, kind: st.IntentKind, job_id: int, node_id: int | None, payload: dict[str, Any]
    ) -> None:
        """For calls a job may need more than once (expire of each status, draw after a re-anchor,
        redraw): one at a time, a new one only after the last was settled."""
        if not self.store.has_pending_intent(kind, job_id):
            self.store.add_intent(kind, job_id, node_id, payload)

    def _advance(self, job_id: int, stage: st.Stage, **fields: Any) -> None:
        self.store.upsert_job(job_id, stage=stage, **fields)
        self._mark(job_id, stage)

    def _finish(self, job_id: int, stage: st.Stage, reason: str) -> None:
        earlier = (self.store.job(job_id) or {}).get("reason")
        if earlier and earlier not in reason:
            reason = f"{reason} ({earlier})"  # keep why the run failed next to how it settled
        self.store.upsert_job(job_id, stage=stage, reason=reason)
        self._mark(job_id, stage, reason)
        work = self.s.work_dir / job_hex(job_id)
        pending = self.intake.cancel(job_id)
        if pending is not None:
            pending.add_done_callback(lambda _done: remove_tree(work))  # its files land after this
        remove_tree(work)

    def _mark(
        self, job_id: int, stage: st.Stage | Literal["priced"], reason: str | None = None
    ) -> None:
        """Logs and times a job's step: a stage, or a milestone within one ("priced": the
        preflight's numbers, before the claim)."""
        since_prev, since_first = self.clock.mark(
            job_id, stage, time.monotonic(), ends=stage in st.TERMINAL
        )
        log.info(
            "job %s %s%s (+%.2fs, %.2fs since seen)",
            job_id,
            stage,
            f": {reason}" if reason else "",
            since_prev,
            since_first,
        )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s",
    )
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
