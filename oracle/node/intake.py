"""The intake stage: whether the node takes a job it has seen (a claim, or accepting a drawn
seat), decided on the chain's view and the licences' records (`schedule`), then on the job's own
bundle, fetched and preflighted on a small pool off the loop (`Executions.prepare`) and priced
against what the seat pays. Nothing is locked before all of it says yes.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from oracle.core.errors import BundleError, ExecutionError, FetchError, JobRefusedError
from oracle.core.protocol import Job, JobStatus, Seat, SeatState
from oracle.node import store as st
from oracle.node.schedule import Backlog, decide, decide_seat, estimate_cost, seat_value

if TYPE_CHECKING:
    from oracle.node.loop import Node

log = logging.getLogger(__name__)
# A job we hold nothing in whose intake raised this many steps in a row is dropped (`failed`).
MAX_INTAKE_ERRORS = 5


class Intake:
    def __init__(self, node: Node):
        self.node = node
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake")
        self.pending: dict[int, Future] = {}  # job id -> its fetch + preflight in flight
        self._errors: dict[int, int] = {}  # job id -> intake failures in a row
        # job id -> its run's worst case (preflight, or the quote's), s; until the job ends
        self.worst: dict[int, float] = {}

    def quoted(self, job_id: int, worst_case_s: float | None) -> None:
        """A quote of ours became `job_id`: its run's worst case, priced for the quote, comes with
        it into the backlog."""
        if worst_case_s:
            self.worst[job_id] = worst_case_s

    def succeeded(self, job_id: int) -> None:
        self._errors.pop(job_id, None)

    def cancel(self, job_id: int) -> Future | None:
        """The job ended: its fetch + preflight, if in flight, is not needed (returned if it is
        already running, so the caller can clean up after it)."""
        self.worst.pop(job_id, None)
        pending = self.pending.pop(job_id, None)
        return pending if pending is not None and not pending.cancel() else None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def failed(self, job: dict[str, Any], err: Exception) -> None:
        """A job we hold nothing in (stage `seen`) whose intake keeps failing the same surprising
        way is dropped after MAX_INTAKE_ERRORS steps in a row, with the reason: a hostile or broken
        job must not cost every step a fetch and a stack trace forever. A job we hold a seat in is
        never dropped (its collateral depends on us)."""
        if job["stage"] != st.SEEN:
            return
        failures = self._errors.get(job["job_id"], 0) + 1
        self._errors[job["job_id"]] = failures
        if failures >= MAX_INTAKE_ERRORS:
            self._errors.pop(job["job_id"], None)
            self.node._finish(
                job["job_id"],
                st.SKIPPED,
                f"intake failed {failures} times: {type(err).__name__}: {err}",
            )

    def consider(self, job: dict[str, Any], view: Job, mine: tuple[int, Seat] | None) -> None:
        job_id = job["job_id"]
        if view.status == JobStatus.SEATING:
            if mine is None or mine[1].state != SeatState.DRAWN or mine[1].round != view.round:
                return  # not drawn (yet): stay watched, a later SeatDrawn may name one of ours
            node_id, seat = mine
            if self.node.view.chain_time() > seat.acceptDeadline:
                self.node._finish(
                    job_id, st.SKIPPED, f"seat for node {node_id} lapsed before we could accept it"
                )
                return
            d = decide_seat(
                view,
                node_id,
                self.node.licences.records[node_id],
                self.free_workers(),
                self.cost(),
                self.node.s.min_margin,
            )
            kind = st.IntentKind.ACCEPT
        elif view.status == JobStatus.OPEN:
            seated, operators = self.node.view.seat_sets(job_id, view)
            d = decide(
                view,
                self.node.licences.records,
                seated,
                operators,
                self.node.key.address,
                self.free_workers(),
                self.cost(),
                self.node.s.min_margin,
            )
            kind = st.IntentKind.CLAIM
        else:
            self.node._finish(job_id, st.SKIPPED, f"not seated; job {view.status.label}")
            return
        if not d.take:
            if d.reason != "no free worker":  # a busy node looks again next step
                log.info(
                    "job %s: %s refused: %s",
                    job_id,
                    "seat" if kind == st.IntentKind.ACCEPT else "claim",
                    d.reason,
                )
                self.node._finish(job_id, st.SKIPPED, d.reason)
            return
        if not self._bundle_ok(job, view, kind):
            return
        # The intent is stored before the stage: a crash in between finds our seat on chain (SEEN
        # with a seat -> CLAIMED) or the intent, never a seat we forgot.
        if self.node.store.add_intent(kind, job_id, d.node_id, {}) is not None:
            self.node._advance(job_id, st.CLAIMING, node_id=d.node_id)

    def free_workers(self, with_quotes: bool = True, beyond: int | None = None) -> int:
        # Seats in flight or held but not yet executing count against the workers, plus a small
        # prefetch: enough that a worker never idles waiting for the next claim to be mined, but not
        # every open job at once (each seat locks collateral and starts its execution window).
        # Outstanding quotes too: each may become a job assigned to us (oracle/node/quoting.py).
        # `beyond`: how many may wait for a worker (default claim_prefetch; quotes: quote_queue).
        stages = self.node.store.stage_counts()
        held = (
            len(self.node.executions.running)
            + stages.get(st.CLAIMING, 0)
            + stages.get(st.CLAIMED, 0)
        )
        if with_quotes and self.node.quotes is not None:
            held += self.node.quotes.outstanding()
        extra = self.node.s.claim_prefetch if beyond is None else beyond
        return self.node.s.workers + extra - held

    def backlog(self, with_quotes: bool = True) -> Backlog:
        """The runs held (running, claimed and not started, and outstanding quotes) with their
        worst cases; a run whose plan this process never saw (after a restart) counts the
        longest the node accepts."""
        held = set(self.node.executions.running)
        held.update(j["job_id"] for j in self.node.store.jobs(st.CLAIMING, st.CLAIMED))
        # `worst` is not pruned to `held` here: a quoted job's worst case is recorded when its
        # JobClaimed is ingested, before the job is adopted into CLAIMED; `cancel` drops it when
        # the job ends.
        unknown = self.node.s.max_time_limit_s + self.node.s.proof_margin_s
        out = Backlog(len(held), sum(self.worst.get(j, unknown) for j in held))
        if with_quotes and self.node.quotes is not None:
            out = out.plus(self.node.quotes.backlog())
        return out

    def cost(self, cpu_seconds: float = 0.0) -> int:
        """Gas of the job's transactions at the current price, plus `cpu_seconds` of compute. Before
        the bundle is fetched only the gas is known (a lower bound); preflight prices the rest."""
        return self.cost_at(self.node.view.gas_price(), cpu_seconds)

    def cost_at(self, gas_price: int, cpu_seconds: float) -> int:
        """`cost` at a known gas price (the quote desk's, from the step's snapshot)."""
        return estimate_cost(
            gas_price,
            self.node.s.gas_limit_estimate,
            cpu_seconds,
            self.node.s.compute_price_per_cpu_s,
        )

    def _bundle_ok(self, job: dict[str, Any], view: Job, kind: str) -> bool:
        """Fetches the bundle and runs the preflight stage on it before any collateral is locked:
        the complete run spec, node-side caps, the worst case against the execution window, and
        the price of the job from its manifest against what the seat pays. The fetch and the
        preflight run on the intake pool, off the loop: a slow or hostile bundle server holds up
        this job only (at most one poll interval of this step), never the proofs, reveals and
        settlements of the jobs we already run. False until a later step finds them done."""
        job_id = job["job_id"]
        future = self.pending.get(job_id)
        if future is None:
            future = self.pending[job_id] = self.pool.submit(
                self.node.executions.prepare, job_id, job, view.executionWindow
            )
            wait(
                [future], timeout=self.node.s.poll_interval_s
            )  # a quick bundle is decided this step
        if not future.done():
            return False
        if why := self._queue_full(future, view):
            log.debug("job %s waits: %s", job_id, why)
            return False  # prepared: taken once the held work leaves room in its window
        del self.pending[job_id]
        try:
            plan = future.result()
            cost = self.cost(plan.cpu_seconds)
            pays = seat_value(view, drawn=kind == st.IntentKind.ACCEPT)
            numbers = (f"worst case {plan.worst_case_s}s of a {view.executionWindow}s window,"
                       f" {plan.cpu_seconds:.0f} CPU-s, costs {cost}, pays {pays}")  # fmt: skip
            if pays < cost * (1 + self.node.s.min_margin):
                raise JobRefusedError(f"below margin: {numbers}")
        except (FetchError, BundleError, ExecutionError) as err:
            log.warning("job %s refused: %s", job_id, err)
            self.node._finish(job_id, st.SKIPPED, f"refused: {err}")
            return False
        self.worst[job_id] = plan.worst_case_s
        self.node._mark(job_id, "priced", numbers)
        self.node.store.upsert_job(job_id, reason=f"taken: {numbers}")
        return True

    def _queue_full(self, future: Future, view: Job) -> str | None:
        """Why a prepared job cannot be taken yet behind the work held (see `Backlog.refuses`)."""
        if future.exception() is not None:
            return None
        plan = future.result()
        return self.backlog().refuses(self.node.s.workers, plan.worst_case_s, view.executionWindow)
