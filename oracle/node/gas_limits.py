"""Gas limits for the submitter: from `eth_estimateGas`, or learned from this node's own receipts.

Proof batches (`submitProofs`) and settlement batches (`settleAndWithdraw`) never revert for a
stale item: the market skips it with an event (`ProofSkipped`, `SettlementSkipped`). For those
kinds an estimate before each send almost never refuses anything, it only sizes the gas limit: one
request per transaction that the node's own receipts answer as well. So once a kind has a mined
receipt, its batches are sized from the largest gas per item seen, with room to spare. A limit
above what a transaction uses costs nothing under EIP-1559 (only the gas used is paid), but the
sender's balance must cover limit x max fee, so a learned limit is capped (the block's gas limit,
or `CAP`); a batch that would need more is estimated instead. Every other kind reverts for a stale
item (claims, reveals, keeper calls...), so its estimate is the check that saves a doomed send:
always estimated. Figures are kept in memory: after a restart the first batch is estimated again.
After an out-of-gas or reverted receipt of a kind, its batches are estimated again until an
estimated one of that kind is mined (the estimate names the revert, if it still holds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from oracle.node.store import IntentKind

log = logging.getLogger(__name__)

# Kinds whose contract call skips a stale item instead of reverting (see the module docstring).
LEARNED_KINDS = frozenset({IntentKind.PROOF, IntentKind.SETTLE})
INTRINSIC = 21_000  # what any transaction costs before its call runs
SAFETY = 1.5  # a learned per-item figure times this
OVERHEAD = INTRINSIC + 50_000  # plus this per transaction (the call's own fixed cost, and spare)
CAP = 3_000_000  # the most a learned limit may be; more is estimated
ESTIMATE_MARGIN, ESTIMATE_EXTRA = 1.3, 20_000  # an estimate's limit: estimate x 1.3 + 20,000


def from_estimate(estimate: int) -> int:
    """The gas limit sent for an `eth_estimateGas` answer: the state may change before it is mined
    (another replica's transaction changes what this one does)."""
    return int(estimate * ESTIMATE_MARGIN) + ESTIMATE_EXTRA


class GasLimits:
    """Per-kind gas per item, learned from mined receipts (largest (gasUsed - 21,000) / items)."""

    def __init__(self, kinds: Iterable[str] = LEARNED_KINDS, *, cap: int = CAP):
        self.kinds, self.cap = frozenset(kinds), cap
        self.block_gas_limit: int | None = None  # the head block's, when the fee quote read it
        self.per_item: dict[str, int] = {}
        self.estimate_next: set[str] = set()  # kinds whose last receipt ran out of gas or reverted

    def size(self, kind: str, items: int, call: Any, sender: str) -> tuple[int, bool]:
        """(gas limit, learned) for a transaction of `items` of `kind`: from receipts where it may
        be, else from `eth_estimateGas` (which raises the chain's refusal, for the caller)."""
        gas = self.limit(kind, items)
        if gas is not None:
            log.debug("%s x%d: gas limit %d from receipts, no estimate", kind, items, gas)
            return gas, True
        return from_estimate(call.estimate_gas({"from": sender})), False

    def limit(self, kind: str, items: int) -> int | None:
        """The gas limit for a batch of `items` of `kind` from what was learned, or None: estimate
        it (a kind that reverts for stale items, nothing learned yet, a recent failure, over the
        cap)."""
        per = self.per_item.get(kind)
        if kind not in self.kinds or kind in self.estimate_next or per is None:
            return None
        gas = int(items * per * SAFETY) + OVERHEAD
        return gas if gas <= min(self.cap, self.block_gas_limit or self.cap) else None

    def record(self, kind: str, items: int, used: int, *, ok: bool, estimated: bool) -> None:
        """A receipt of `kind` carrying `items` that used `used` gas; `estimated`: its limit is
        known to come from an estimate (not from here, nor a transaction recovered later)."""
        if kind not in self.kinds:
            return
        if not ok:
            self.estimate_next.add(kind)  # out of gas, or reverted: estimate again
            return
        per = -(-max(used - INTRINSIC, 0) // max(items, 1))
        self.per_item[kind] = max(self.per_item.get(kind, 0), per)
        if estimated:
            self.estimate_next.discard(kind)
