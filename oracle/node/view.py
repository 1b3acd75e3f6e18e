"""What the node reads from the chain, read once (issue [4/7]: a typed view, state from logs).

Every stage of a step asks the same questions (the job, its seats, the block, the time, the gas
price). Each answer is a typed record (`Job`, `Seat`) built from the contract's tuple; the view is
the node's only reader of per-job contract state, so the RPC cost of a step is the number of
distinct questions, not the number of places that ask.

Two lifetimes:
* the block, the time and the gas price live for one step (`reset()`);
* a job and its seats are kept across steps until something says they changed (`forget`). The
  market changes a job's storage only in transactions that emit an event naming the job (see
  IJobMarket's events), and the node forgets a job when ingest hands it such an event, when one of
  its own transactions for the job settles, before it judges an intent for the job to be sent, and
  after a reorg (everything). What remains is time (deadlines are compared against the block's
  time, which is read every step) and events not yet confirmed (`confirmations`: the node then acts
  as if it were that many blocks late, as it does for new jobs). `keep_s` bounds how long any
  answer is trusted all the same: a view that missed an event is wrong for seconds, not forever,
  and the contract checks every transaction the node sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from oracle.core.chain import Chain
from oracle.core.protocol import Job, JobStatus, JobTerms, Seat
from oracle.node import flow

T = TypeVar("T")

KEEP_S = 30.0


class StepView:
    def __init__(
        self,
        chain: Chain,
        keep_s: float = KEEP_S,
        clock: Callable[[], float] = time.monotonic,
        terms: Callable[[int], JobTerms | None] = lambda job_id: None,
    ):
        self.chain = chain
        # A job's checked terms (the node's store): a one-slot k = 1 job's `job(id)` has only its
        # state, and the terms are filled in from here.
        self.terms = terms
        self.keep_s = keep_s
        self._clock = clock
        self._answers: dict[Any, Any] = {}
        self._kept: dict[int, tuple[float, dict[Any, Any]]] = {}  # job id -> (read at, answers)
        self._tip: tuple[float, int] | None = None  # (read at, priority fee), for gas_price

    def reset(self, head: bool = True) -> None:
        """A new phase of a step: jobs are kept (see the module's docstring), except those kept
        longer than `keep_s`; the block, time and gas price are read again if `head`. The phases
        after the first in a step keep them: a head a few milliseconds old prices a transaction
        and judges a deadline as well (a deadline judged early is only acted on a step later)."""
        if head:
            self._answers = {}
        now = self._clock()
        self._kept = {j: e for j, e in self._kept.items() if now - e[0] <= self.keep_s}

    def forget(self, job_ids: Iterable[int | None]) -> None:
        """These jobs changed (an event, our own transaction) or are about to be judged: the next
        question about them reads the chain."""
        for job_id in job_ids:
            if job_id is not None:
                self._kept.pop(job_id, None)

    def learn(self, job_id: int, events: list[tuple[str, dict]]) -> bool:
        """Moves the kept job and seats along `events` (our own receipt's, in order) instead of
        reading them again; False (and the job forgotten) when nothing complete is kept or an
        event is one `flow.advance` does not follow."""
        entry = self._kept.get(job_id)
        answers = entry[1] if entry else {}
        job = answers.get("job")
        seats = [answers.get(("seat", i)) for i in range(job.replicaCount)] if job else []
        moved = None
        if job is not None and all(s is not None for s in seats):
            moved = flow.advance(job, seats, events)  # type: ignore[arg-type]
        if moved is None or entry is None:
            self.forget([job_id])
            return False
        answers["job"] = moved[0]
        for i, seat in enumerate(moved[1]):
            answers[("seat", i)] = seat
        return True

    def follow(self, events: Iterable[Any], ours: Collection[str]) -> None:
        """Ingested events (`ingest.Event`, in chain order): a k = 1 job created in them is built
        from its `JobCreated` terms and moved along the events after it (a quote's `JobClaimed` and
        `JobRunning` in the same transaction), so a new job costs no `job()` or `replica()` read.
        Any other job named by someone else's event changed in a way not followed here: it is read
        again when next asked. Our own transactions' events are skipped: the node learned those jobs
        from the receipt (`learn`), which is newer."""
        by_job: dict[int, list[Any]] = {}
        for ev in events:
            by_job.setdefault(ev.job_id, []).append(ev)
        for job_id, evs in by_job.items():
            mine = sum(ev.tx_hash in ours for ev in evs)
            if mine == len(evs):
                continue
            first, built = evs[0], None
            # Built only from a complete history: a job created and already moved by us in the same
            # range (a restart's backfill) is read instead.
            if not mine and first.name == "JobCreated" and int(first.args["replicas"]) == 1:
                built = flow.advance(
                    Job.created(first.args), [], [(e.name, e.args) for e in evs[1:]]
                )
            if built is None:
                self.forget([job_id])
                continue
            answers: dict[Any, Any] = {"job": built[0]}
            answers.update({("seat", i): seat for i, seat in enumerate(built[1])})
            self._kept[job_id] = (self._clock(), answers)

    def forget_all(self) -> None:
        """A reorg: nothing read before it is known to hold."""
        self._kept = {}

    def per_step(self, key: Any, read: Callable[[], T]) -> T:
        """`read()` once per phase for `key`; the same answer after that."""
        if key not in self._answers:
            self._answers[key] = read()
        return self._answers[key]

    def per_job(self, job_id: int, key: Any, read: Callable[[], T]) -> T:
        """`read()` once for `key` about `job_id` until the job is forgotten (or kept too long)."""
        entry = self._kept.get(job_id)
        if entry is None or self._clock() - entry[0] > self.keep_s:
            entry = self._kept[job_id] = (self._clock(), {})
        answers = entry[1]
        if key not in answers:
            answers[key] = read()
        return answers[key]

    def job(self, job_id: int) -> Job:
        market = self.chain.market.functions
        return self.per_job(job_id, "job", lambda: self._job(market.job(job_id).call(), job_id))

    def _job(self, raw: Any, job_id: int) -> Job:
        job, terms = Job.from_raw(raw), self.terms(job_id)
        return job if terms is None or job.status == JobStatus.NONE else job.with_terms(terms)

    def seats(self, job_id: int, view: Job) -> list[Seat]:
        """Every seat of the job, both rounds, dropped ones included, in the contract's order."""
        market = self.chain.market.functions
        return [
            self.per_job(
                job_id,
                ("seat", i),
                lambda i=i: Seat.from_raw(market.replica(job_id, i).call()),  # type: ignore[misc]
            )
            for i in range(view.replicaCount)
        ]

    def seat_of(self, job_id: int, view: Job, node_id: int) -> Seat | None:
        """`node_id`'s live seat (a dropped seat is gone)."""
        return flow.seat_of(self.seats(job_id, view), node_id)

    def my_seat(self, job_id: int, view: Job, ours: Collection[int]) -> tuple[int, Seat] | None:
        """The live seat of one of the nodes in `ours`, as (node id, seat)."""
        return flow.my_seat(self.seats(job_id, view), ours)

    def now(self) -> flow.Now:
        return flow.Now(self.block_number(), self.chain_time())

    def seat_sets(self, job_id: int, view: Job) -> tuple[set[int], set[str]]:
        """(node ids, operators) already seated in the job, dropped seats included."""
        seats = self.seats(job_id, view)
        return {s.nodeId for s in seats}, {s.operator.lower() for s in seats}

    def latest(self) -> Any:
        """The head block, read once per phase: its number, time, hash, parent hash and base fee
        answer every stage's question about "now" (ingest's reorg check included)."""
        return self.per_step("latest", lambda: self.chain.w3.eth.get_block("latest"))

    def block_number(self) -> int:
        return int(self.latest()["number"])

    def chain_time(self) -> int:
        return int(self.latest()["timestamp"])

    def gas_price(self, tip_keep_s: float = 30.0) -> int:
        """The gas price a job's transactions are priced at, as `eth_gasPrice` answers it: the
        head's base fee (read anyway) plus the suggested priority fee, read at most every
        `tip_keep_s` (it moves slowly, and pricing every claim decision must not cost a request);
        `eth_gasPrice` once a step on a chain without a base fee."""
        base = self.latest().get("baseFeePerGas")
        if base is None:
            return self.per_step("gas_price", lambda: int(self.chain.w3.eth.gas_price))
        now = self._clock()
        if self._tip is None or now - self._tip[0] > tip_keep_s:
            self._tip = (now, max(int(self.chain.w3.eth.max_priority_fee), 0))
        return int(base) + self._tip[1]
