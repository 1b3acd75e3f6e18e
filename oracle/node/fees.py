"""What the node pays for a transaction (EIP-1559): the quote for a new one, from the head block
and the endpoint's tip, and the raise that replaces a stuck one. Both stop at the operator's cap
(`max_fee_gwei`); nothing here sends, logs the cap's consequences or keeps state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from oracle.core.chain import eip1559_fees

log = logging.getLogger(__name__)

GWEI = 10**9
# A replacement must raise the fees by at least 10% (geth's and anvil's rule), else it is refused.
MIN_REPLACEMENT = 1.1


def gwei(wei: int) -> str:
    return f"{wei / GWEI:.9g} gwei"


@dataclass(frozen=True)
class FeeRule:
    bump: float  # a stuck transaction's replacement pays this many times its fees
    cap_wei: int  # the most any transaction may offer per gas (max_fee_gwei)

    def quote(self, head: Any, tip: int) -> dict[str, int]:
        """Fees for a transaction sent now (`eip1559_fees`), at most the cap (then it may wait:
        warned)."""
        fees = eip1559_fees(head.get("baseFeePerGas", 0) or 0, tip)
        max_fee, tip = fees["maxFeePerGas"], fees["maxPriorityFeePerGas"]
        if max_fee > self.cap_wei:
            log.warning(
                "fee quote %s is above max_fee_gwei = %g: sending at the cap (it may wait)",
                gwei(max_fee),
                self.cap_wei / GWEI,
            )
            max_fee = self.cap_wei
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee)}

    def bumped(self, fees: dict[str, int], quote: dict[str, int]) -> dict[str, int] | None:
        """`fees` raised by `bump` (or to the current `quote`, if higher), at most to the cap;
        None if the cap leaves no room for a replacement the mempool would accept."""
        old_max = int(fees.get("maxFeePerGas", 0))
        old_tip = int(fees.get("maxPriorityFeePerGas", 0))
        new_max = min(max(int(old_max * self.bump) + 1, quote["maxFeePerGas"]), self.cap_wei)
        new_tip = min(max(int(old_tip * self.bump) + 1, quote["maxPriorityFeePerGas"]), new_max)
        if new_max < old_max * MIN_REPLACEMENT or new_max <= old_max:
            return None
        return {"maxFeePerGas": new_max, "maxPriorityFeePerGas": new_tip}
