"""The quote stage: a client asks the node's endpoint (POST /quote) to take a k = 1 job before the
job exists, and gets back a signed EIP-712 quote (oracle/core/quote.py) that it turns into a job
already assigned to one of our licences (`JobMarket.createAndAssign`): one transaction instead of
createJob + claim, and no race with other nodes for the claim.

A quote is a promise, so it is decided exactly as intake decides an open claim (`schedule.decide`:
an active licence meeting the requirements with free stake for the collateral, a free worker, pay
above cost), then the bundle is fetched and preflighted (`Executions.prepare`) and priced, all
before signing. Nothing is locked by signing: the seat and its collateral come with the client's
transaction, which the market checks again (the signer operates the node now, active,
requirements, free stake). Until it expires (`quote_ttl_s`), or until its job appears on chain,
an outstanding quote holds one worker and its collateral of its licence's free stake here, so the
node never promises more than it can run. A client's quote nonce makes one quote per nonce usable,
so a client holds one worker per nonce it asked for (asking again for the same nonce replaces the
hold; quotes for nonces n and n + 1 can both become jobs, one after the other, and both hold).

What an ask costs the node: no transaction, no RPC (the step's snapshot answers the chain's
questions), one bundle fetch, and none for a bundle fetched for a recent quote: the last BUNDLES_KEPT are
kept, by hash, and the job a quote becomes runs that copy (`Executions.quoted_bundle`), never
fetching again from a URI its client could take down after the quote. At most MAX_PREPARING asks fetch and preflight at once; another is
answered 503 at once, so asks pointing at a slow bundle server cannot tie up the endpoint's
threads (which also serve results). A stranger spamming asks from many addresses can hold the
workers for `quote_ttl_s` (the node then refuses quotes and claims until they lapse, losing
income, never collateral); the endpoint's per-address rate limit and the short TTL bound it.
docs/protocol.md ("Quotes") has the client's side.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from oracle.core.errors import BundleError, ExecutionError, FetchError, JobRefusedError
from oracle.core.protocol import MARKET_PARAMETER_FIELDS, Capabilities, Job, JobStatus, NodeRecord
from oracle.core.quote import (
    MAX_QUOTE_BATCH,
    BatchItem,
    QuoteAsk,
    QuoteBatchAnswer,
    QuoteBatchAsk,
    QuoteOffer,
    sign_quote,
)
from oracle.core.tree import remove_tree
from oracle.node import metrics
from oracle.node.schedule import Backlog, decide, seat_value

if TYPE_CHECKING:
    from oracle.node.loop import Node

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x" + "00" * 20
MAX_BODY = 16 * 1024  # a JobRequest with a 2 KiB URI is under 2 KiB of JSON
MAX_BATCH_BODY = MAX_QUOTE_BATCH * 4 * 1024  # POST /quotes: up to MAX_QUOTE_BATCH of them
BATCH_BUDGET_S = 10.0  # preparing one POST /quotes batch (the rest of it is refused)
MAX_PREPARING = 2  # asks fetching and preflighting a bundle at once
OUTCOMES = {200: "signed", 409: "refused", 503: "busy", 400: "malformed", 413: "malformed",
            422: "malformed"}  # fmt: skip
BUNDLES_KEPT = (
    32  # bundles fetched for quotes kept on disk at least (the jobs they become run them)
)


@dataclass(frozen=True)
class Snapshot:
    """What the loop knew at its last step: the chain's answers a quote needs, so an ask costs no
    RPC. `free_workers` does not count outstanding quotes (the desk does)."""

    records: dict[int, NodeRecord]
    free_workers: int
    gas_price: int
    protocol_fee_bps: int
    chain_time: int
    taken_at: float  # time.monotonic() of the step
    workers: int
    backlog: Backlog  # the runs held, without outstanding quotes (the desk adds its own)


@dataclass
class _Held:
    node_id: int
    collateral: int
    expiry: float  # monotonic
    worst_s: float = 0.0  # its run's worst case, once preflight priced it


@dataclass(frozen=True)
class Answer:
    """The HTTP answer: 200 with a QuoteOffer, or a refusal with its reason."""

    code: int
    body: dict[str, Any]


class _Busy(Exception):
    """Every preflight slot is taken."""


def _refuse(code: int, why: str) -> Answer:
    return Answer(code, {"error": why})


class QuoteDesk:
    """Signs quotes for the node; thread-safe (asks arrive on the HTTP server's threads, the
    snapshot and the jobs that used quotes from the loop). `chain_id()` is asked when signing
    (the node reads it from the chain once, not while it starts)."""

    def __init__(self, key: Any, chain_id: Callable[[], int], market: str, ttl_s: int, min_margin: float,
                 cost: Callable[[int, float], int],
                 prepare: Callable[[dict[str, Any], int, Path, bool], Any], work_dir: Path,
                 clock: Callable[[], float] = time.monotonic, kept: int = BUNDLES_KEPT):  # fmt: skip
        self.key, self.chain_id, self.market = key, chain_id, market
        self.ttl_s, self.min_margin = ttl_s, min_margin
        self._cost, self._prepare, self._work = cost, prepare, work_dir
        self._clock = clock
        # Every outstanding quote's bundle stays on disk until its job runs it.
        self._kept = max(kept, BUNDLES_KEPT)
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._held: dict[tuple[str, int], _Held] = {}  # (client, quote nonce) -> its quote's hold
        self._preparing = threading.BoundedSemaphore(MAX_PREPARING)
        self._bundles: OrderedDict[str, bool] = OrderedDict()  # hash -> fetched (False: fetching)

    # ------------------------------------------------------------ from the loop
    def update(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot

    def used(self, client: str, node_id: int) -> float | None:
        """A quote of ours for `client` became a job on `node_id` (its JobCreated + JobClaimed):
        the job's own stage counts against the workers from now on, so the hold ends; its run's
        worst case is returned for the job to carry. A client's quote nonces are used in order,
        so it was its lowest one held for that node; any lower nonce can no longer be used
        either."""
        client = client.lower()
        with self._lock:
            mine = [n for (c, n), h in self._held.items() if c == client and h.node_id == node_id]
            if not mine:
                return None
            worst = self._held[(client, min(mine))].worst_s
            for key in [k for k in self._held if k[0] == client and k[1] <= min(mine)]:
                del self._held[key]
            return worst or None

    def backlog(self) -> Backlog:
        """The outstanding quotes as held runs: each may become a job (a not yet priced one
        counts as no time: its own preflight is under way)."""
        with self._lock:
            self._prune()
            return Backlog(len(self._held), sum(h.worst_s for h in self._held.values()))

    def outstanding(self) -> int:
        """Quotes that may still become jobs: each holds a worker."""
        with self._lock:
            self._prune()
            return len(self._held)

    # ------------------------------------------------------------ from the HTTP server
    def ask(self, body: bytes) -> Answer:
        """POST /quote: parse, decide, preflight, sign (counted by outcome in `tes_quotes`)."""
        answer = self._parse_and_ask(body)
        metrics.QUOTES.labels(OUTCOMES.get(answer.code, "failed")).inc()
        return answer

    def ask_batch(self, body: bytes) -> Answer:
        """POST /quotes: each request decided, prepared and signed as POST /quote does one, in
        order; the ones taken numbered `nonce`, `nonce + 1`, ... (so every quote signed can be
        used whichever are refused). Preparing stops after BATCH_BUDGET_S: one request of a
        stranger's can hold this thread that long, as long as one slow bundle could already."""
        if len(body) > MAX_BATCH_BODY:
            return _refuse(413, f"body larger than {MAX_BATCH_BODY} bytes")
        try:
            batch = QuoteBatchAsk.model_validate_json(body)
        except ValidationError as err:
            return _refuse(400, f"malformed quote batch: {err.errors(include_url=False)}")
        end = time.monotonic() + BATCH_BUDGET_S
        nonce, items = batch.nonce, []
        for wire in batch.requests:
            if time.monotonic() > end:
                answer = _refuse(503, f"this batch spent its {BATCH_BUDGET_S:g} s: ask again")
            else:
                ask = QuoteAsk(**wire.model_dump(), client=batch.client, nonce=nonce)
                answer = self._ask(ask)
            metrics.QUOTES.labels(OUTCOMES.get(answer.code, "failed")).inc()
            if answer.code == 200:
                items.append(BatchItem(offer=QuoteOffer(**answer.body), nonce=nonce))
                nonce += 1
            else:
                items.append(BatchItem(error=str(answer.body.get("error", ""))[:512]))
        return Answer(200, QuoteBatchAnswer(items=items).model_dump())

    def _parse_and_ask(self, body: bytes) -> Answer:
        if len(body) > MAX_BODY:
            return _refuse(413, f"body larger than {MAX_BODY} bytes")
        try:
            ask = QuoteAsk.model_validate_json(body)
        except ValidationError as err:
            return _refuse(400, f"malformed quote request: {err.errors(include_url=False)}")
        return self._ask(ask)

    def _ask(self, ask: QuoteAsk) -> Answer:
        if ask.replicas != 1:
            return _refuse(422, "only k = 1 jobs are quoted (seats of k >= 3 jobs are drawn)")
        if ask.client.lower() == ZERO_ADDRESS:
            return _refuse(422, "no client")
        decided = self._reserve(ask)
        if isinstance(decided, Answer):
            return decided
        node_id, job, snap = decided
        try:
            numbers = self._preflight(ask, job, snap)
        except _Busy:
            self._release(ask)
            return _refuse(503, f"{MAX_PREPARING} quotes are being prepared: ask again shortly")
        except (FetchError, BundleError, ExecutionError, JobRefusedError) as err:
            self._release(ask)
            log.info("quote refused for %s: %s", ask.client, err)
            return _refuse(409, f"refused: {err}")
        except Exception as err:  # noqa: BLE001 (one ask's surprise is its refusal, never a hold kept)
            self._release(ask)
            log.exception("quote for %s failed", ask.client)
            return _refuse(500, f"quote failed: {type(err).__name__}")
        # Dated by the chain's clock (what createAndAssign checks), moved on by ours since the step.
        expiry = snap.chain_time + int(self._clock() - snap.taken_at) + self.ttl_s
        request = ask.request()
        quote = sign_quote(self.key.key, self.chain_id(), self.market, request, ask.client,
                           ask.nonce, node_id, expiry)  # fmt: skip
        log.info("quoted node %d for %s (nonce %d, expires %d): %s",
                 node_id, ask.client, ask.nonce, expiry, numbers)  # fmt: skip
        return Answer(200, QuoteOffer.of(quote, request).model_dump())

    def _reserve(self, ask: QuoteAsk) -> tuple[int, Job, Snapshot] | Answer:
        """Decides on the step's snapshot, less what outstanding quotes hold, and holds a worker
        and the collateral for this ask at once (two asks at the same moment cannot both get the
        last worker)."""
        with self._lock:
            snap = self._snapshot
            if snap is None:
                return _refuse(503, "node is starting: ask again shortly")
            self._prune()
            # Asked again for the same nonce: only one of the two quotes can ever be used.
            self._held.pop((ask.client.lower(), ask.nonce), None)
            job = self._job_of(ask, snap)
            cost = self._cost(snap.gas_price, 0.0)
            d = decide(job, self._free(snap), set(), set(), self.key.address,
                       snap.free_workers - len(self._held), cost, self.min_margin)  # fmt: skip
            if not d.take or d.node_id is None:
                return _refuse(409, d.reason)
            self._held[(ask.client.lower(), ask.nonce)] = _Held(
                d.node_id, ask.collateral, self._clock() + self.ttl_s
            )
            return d.node_id, job, snap

    def _free(self, snap: Snapshot) -> dict[int, NodeRecord]:
        """Our licences' records with the collateral of outstanding quotes counted as locked."""
        out = {}
        for node_id, record in snap.records.items():
            held = sum(h.collateral for h in self._held.values() if h.node_id == node_id)
            out[node_id] = dataclasses.replace(record, locked=record.locked + held)
        return out

    def _preflight(self, ask: QuoteAsk, job: Job, snap: Snapshot) -> str:
        """The bundle fetched, checked against its hash and preflighted, priced against the pay;
        JobRefusedError when below margin. Its files are not kept: the job fetches again once it
        exists (the quote may never be used)."""
        plan = self._plan(ask)
        with self._lock:
            others = [h for k, h in self._held.items() if k != (ask.client.lower(), ask.nonce)]
            held = snap.backlog.plus(Backlog(len(others), sum(h.worst_s for h in others)))
            if why := held.refuses(snap.workers, plan.worst_case_s, ask.executionWindow):
                raise JobRefusedError(why)
            mine = self._held.get((ask.client.lower(), ask.nonce))
            if mine is not None:
                mine.worst_s = plan.worst_case_s
        cost = self._cost(snap.gas_price, plan.cpu_seconds)
        pays = seat_value(job, drawn=False)
        numbers = (f"worst case {plan.worst_case_s}s of a {ask.executionWindow}s window,"
                   f" {plan.cpu_seconds:.0f} CPU-s, costs {cost}, pays {pays}")  # fmt: skip
        if pays < cost * (1 + self.min_margin):
            raise JobRefusedError(f"below margin: {numbers}")
        return numbers

    def _plan(self, ask: QuoteAsk) -> Any:
        """The bundle's preflight plan for this ask's window, on the copy kept from an earlier
        quote or fetched now (at most MAX_PREPARING at once, else _Busy)."""
        digest = ask.bundleHash.lower().removeprefix("0x")
        work = self._work / "quotes" / digest
        spec = {"bundle_uri": ask.bundleUri, "bundle_hash": digest}
        with self._lock:
            state = self._bundles.get(digest)
            if state is False:
                raise _Busy  # another ask is fetching this bundle
            if state:
                self._bundles.move_to_end(digest)
        if state:
            return self._prepare(spec, ask.executionWindow, work, False)
        if not self._preparing.acquire(blocking=False):
            raise _Busy
        with self._lock:
            self._bundles[digest] = False
        try:
            plan = self._prepare(spec, ask.executionWindow, work, True)
        except BaseException:
            with self._lock:
                self._bundles.pop(digest, None)
            remove_tree(work)
            raise
        finally:
            self._preparing.release()
        with self._lock:
            self._bundles[digest] = True
            old = []
            while len(self._bundles) > self._kept:
                old.append(self._bundles.popitem(last=False)[0])
        for gone in old:
            remove_tree(self._work / "quotes" / gone)
        return plan

    def _release(self, ask: QuoteAsk) -> None:
        with self._lock:
            self._held.pop((ask.client.lower(), ask.nonce), None)

    def _prune(self) -> None:
        now = self._clock()
        for k in [k for k, h in self._held.items() if h.expiry <= now]:
            del self._held[k]

    @staticmethod
    def _job_of(ask: QuoteAsk, snap: Snapshot) -> Job:
        """The job the request would create, as `market.job` will show it (the fee rate is the
        market's now: createAndAssign fixes it at creation)."""
        r = ask.requirements
        return Job(
            payment=ask.payment, collateral=ask.collateral, deadline=0, status=JobStatus.OPEN,
            k=1, round=0, client=ask.client,
            requirements=Capabilities(r.cpuCores, r.memoryMb, r.gpuCount, r.gpuMemoryMb, r.gpuClass),
            claims=0, commits=0, reveals=0, replicaCount=0, seated=0, redraws=0,
            protocolFeeBps=snap.protocol_fee_bps, keeperBountyBps=0,
            claimWindow=ask.claimWindow, executionWindow=ask.executionWindow,
            revealWindow=ask.revealWindow, disputeWindow=ask.disputeWindow, drawBlock=0,
            commitment=b"\x00" * 32, disputer=ZERO_ADDRESS,
        )  # fmt: skip


def publish_snapshot(node: Node) -> None:
    """What the node's quote desk decides on until the next step (no RPC of its own but a read of
    the protocol fee the first time: later ones come from `JobCreated` events)."""
    if node.quotes is None:
        return
    if node.fee_bps is None:
        params = node.chain.market.functions.parameters().call()
        node.fee_bps = int(params[MARKET_PARAMETER_FIELDS.index("protocolFeeBps")])
    node.quotes.update(
        Snapshot(
            records=dict(node.licences.records),
            free_workers=node.intake.free_workers(with_quotes=False, beyond=node.s.quote_queue),
            workers=node.s.workers,
            backlog=node.intake.backlog(with_quotes=False),
            gas_price=node.view.gas_price(),
            protocol_fee_bps=node.fee_bps,
            chain_time=node.view.chain_time(),
            taken_at=time.monotonic(),
        )
    )
