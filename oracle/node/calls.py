"""Which contract call carries an intent: one module for the mapping from intent kinds to the
market's, registry's and rewards' functions (the submitter sends what this builds)."""

from __future__ import annotations

from typing import Any

from oracle.core.chain import Chain
from oracle.core.errors import SubmitError
from oracle.node.store import Intent, IntentKind


def contract_call(chain: Chain, intents: list[Intent]) -> Any:
    """The contract call that carries these intents (one kind; a batch for proofs, reveals and
    settlements, one item otherwise)."""
    m = chain.market
    kind = intents[0].kind
    if kind in (IntentKind.CLAIM, IntentKind.ACCEPT):
        fn = m.functions.claim if kind == IntentKind.CLAIM else m.functions.acceptSeat
        return fn(intents[0].job_id, intents[0].node_id)
    if kind == IntentKind.PROOF:
        # Our own proofs (we are the nodes' current operator and send them ourselves): one batch
        # with no signature; a key rotation cannot make it stale.
        items = [(i.job_id, i.node_id, bytes.fromhex(i.payload["commitment"])) for i in intents]
        return m.functions.submitProofs([(items, b"")])
    if kind == IntentKind.SETTLE:
        return m.functions.settleAndWithdraw([i.job_id for i in intents])
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
        return getattr(m.functions, kind)(intents[0].job_id)
    if kind == IntentKind.ACCEPT_OPERATOR:
        return chain.registry.functions.acceptOperator(intents[0].node_id)
    if kind == IntentKind.ANNOUNCE:
        return chain.registry.functions.announceEndpoint(
            intents[0].node_id, intents[0].payload["url"]
        )
    if kind == IntentKind.HEARTBEAT:
        return chain.rewards.functions.heartbeat(intents[0].payload["node_ids"])
    raise SubmitError(f"unknown intent kind {kind!r}")
