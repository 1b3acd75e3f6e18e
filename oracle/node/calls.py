"""Which contract call carries an intent: one module for the mapping from intent kinds to the
market's, registry's and rewards' functions (the submitter sends what this builds).

Intents name a job by its id. The market's entry points that act on an existing job's money
(claim, finalize, expire, settleAndWithdraw) take the job's terms instead (`JobTerms`, checked
there against the id, which is their hash); the others (acceptSeat, draw, redraw, submitProofs,
reveal) still take the id. `JobArgs` is the one place that turns a job id into what its call
takes: the terms the node's store kept from the job's `JobCreated` (checked against the id again
when read). A job whose terms are not there, or fail the check, cannot be sent (`UnknownTerms`).
"""

from __future__ import annotations

from typing import Any

from oracle.core.chain import Chain
from oracle.core.errors import ConfigError, SubmitError
from oracle.core.protocol import JobTerms, job_hex
from oracle.node.store import Intent, IntentKind, Store

# Kinds whose market function names the job by its terms, not its id.
BY_TERMS = frozenset({IntentKind.CLAIM, IntentKind.SETTLE, IntentKind.FINALIZE, IntentKind.EXPIRE})
TERMS_KEPT = 4_096  # jobs whose checked terms stay in memory (they never change for an id)


class UnknownTerms(SubmitError):
    """The job's terms are not in the node's store, or do not hash to its id: no call naming the
    job by its terms can be built."""

    def __init__(self, job_id: int, why: str):
        self.job_id = job_id
        super().__init__(f"job {job_hex(job_id)}: {why}")


class JobArgs:
    """A job id -> the argument the market's function for an intent takes: the job's terms (as the
    tuple web3 encodes for the struct) for `BY_TERMS` kinds, the id for every other kind. Terms are
    read from the store (checked against the id there) and kept once read."""

    def __init__(self, store: Store, kept: int = TERMS_KEPT):
        self.store, self.kept = store, kept
        self._terms: dict[int, JobTerms] = {}

    def terms(self, job_id: int) -> JobTerms:
        """The job's checked terms; UnknownTerms if the store has none, or none that hash to it."""
        found = self._terms.get(job_id)
        if found is not None:
            return found
        try:
            found = self.store.terms(job_id)
        except ConfigError as err:  # a row changed on disk: not trusted
            raise UnknownTerms(job_id, str(err)) from None
        if found is None:
            raise UnknownTerms(job_id, "the node's store does not have its terms")
        self._terms[job_id] = found
        while len(self._terms) > self.kept:
            del self._terms[next(iter(self._terms))]
        return found

    def check(self, intent: Intent) -> None:
        """Raises UnknownTerms if the intent's call cannot be built for want of its job's terms."""
        if intent.kind in BY_TERMS and intent.job_id is not None:
            self.terms(intent.job_id)

    def job(self, intent: Intent) -> Any:
        """What the intent's market function takes for its job: terms, or the id."""
        if intent.job_id is None:
            raise SubmitError(f"{intent.kind} intent {intent.id} names no job")
        if intent.kind in BY_TERMS:
            return self.terms(intent.job_id).as_tuple()
        return intent.job_id


def contract_call(chain: Chain, intents: list[Intent], args: JobArgs) -> Any:
    """The contract call that carries these intents (one kind; a batch for proofs, reveals and
    settlements, one item otherwise). UnknownTerms if a job's terms are needed and not known."""
    m = chain.market
    kind = intents[0].kind
    if kind in (IntentKind.CLAIM, IntentKind.ACCEPT):
        fn = m.functions.claim if kind == IntentKind.CLAIM else m.functions.acceptSeat
        return fn(args.job(intents[0]), intents[0].node_id)
    if kind == IntentKind.PROOF:
        # Our own proofs (we are the nodes' current operator and send them ourselves): one batch
        # with no signature; a key rotation cannot make it stale.
        items = [(i.job_id, i.node_id, bytes.fromhex(i.payload["commitment"])) for i in intents]
        return m.functions.submitProofs([(items, b"")])
    if kind == IntentKind.SETTLE:
        return m.functions.settleAndWithdraw([args.job(i) for i in intents])
    if kind == IntentKind.REVEAL:
        return m.functions.reveal(
            [
                (
                    i.job_id,
                    i.node_id,
                    bytes.fromhex(i.payload["result"]),
                    bytes.fromhex(i.payload["salt"]),
                )
                for i in intents
            ]
        )
    if kind in (IntentKind.FINALIZE, IntentKind.EXPIRE, IntentKind.DRAW, IntentKind.REDRAW):
        return getattr(m.functions, kind)(args.job(intents[0]))
    if kind == IntentKind.ACCEPT_OPERATOR:
        return chain.registry.functions.acceptOperator(intents[0].node_id)
    if kind == IntentKind.ANNOUNCE:
        return chain.registry.functions.announceEndpoint(
            intents[0].node_id, intents[0].payload["url"]
        )
    if kind == IntentKind.HEARTBEAT:
        return chain.rewards.functions.heartbeat(intents[0].payload["node_ids"])
    raise SubmitError(f"unknown intent kind {kind!r}")
