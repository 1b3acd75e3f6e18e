"""Ingest stage: job-market events from a persisted cursor, only once they are `confirmations`
blocks deep, with reorg detection.

Events say which jobs changed; a new k = 1 job is built from its `JobCreated` terms and the events
after it (`StepView.follow`), any other change is read from the contract's views. The contract
checks every transaction the node sends, so a missed, repeated or reorged-out event can delay the
node but never make it act wrongly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from oracle.core.chain import Chain
from oracle.core.events import decoders
from oracle.core.protocol import JobId, JobTerms, verified_terms
from oracle.node.store import Store

log = logging.getLogger(__name__)
MAX_RANGE = 2_000  # blocks per eth_getLogs call, so a long backfill stays within RPC limits


@dataclass
class Event:
    name: str
    job_id: int
    args: dict[str, Any]
    block: int
    tx_hash: str = ""  # hex, lower case, no 0x
    terms: JobTerms | None = None  # JobCreated: its terms, checked to hash to `job_id`


class Ingest:
    def __init__(
        self, chain: Chain, store: Store, confirmations: int, reorg_depth: int, start_block: int
    ):
        self.chain, self.store = chain, store
        self.confirmations, self.reorg_depth, self.start_block = (
            confirmations,
            reorg_depth,
            start_block,
        )
        self._by_topic = decoders(chain.abis["JobMarket"])
        self.reorgs = 0

    def poll(self, latest: Any = None) -> list[Event]:
        """New confirmed events since the cursor ([] after a reorg rewind, which the next poll refills).
        `latest` is the head block if the caller already read it this step (one request less)."""
        w3 = self.chain.w3
        if latest is None:
            latest = w3.eth.get_block("latest")
        head = int(latest["number"])
        safe = head - self.confirmations
        cursor = self.store.cursor()
        if cursor and self._reorged(cursor, latest):
            return []
        start = cursor[0] + 1 if cursor else self.start_block
        if start > safe:
            return []
        end = min(safe, start + MAX_RANGE - 1)
        logs = w3.eth.get_logs(
            {"address": self.chain.market.address, "fromBlock": start, "toBlock": end}
        )
        events = self.decode(logs)
        end_hash = (latest if end == head else w3.eth.get_block(end))["hash"].hex()
        self.store.advance(end, end_hash, {end: end_hash})
        if events:
            log.debug("ingested %d events in blocks %d..%d", len(events), start, end)
        return events

    def decode(self, logs: Any) -> list[Event]:
        """The market's job events among `logs` (a range's, or one receipt's), in order."""
        events = []
        market = str(self.chain.market.address).lower()
        for entry in logs:
            if str(entry["address"]).lower() != market or not entry["topics"]:
                continue
            decoder = self._by_topic.get(bytes(entry["topics"][0]))
            if decoder is None:
                continue
            args = decoder.args(entry["topics"], entry["data"])
            terms = None
            if decoder.name == "JobCreated":
                # A job is only ever built from terms that hash to its id: a log that does not (a
                # lying or broken RPC endpoint) is dropped, loudly.
                terms = verified_terms(
                    args, lambda why: log.error("ignored a JobCreated log: %s", why)
                )
                if terms is None:
                    continue
            if "jobId" in args:
                tx = bytes(entry["transactionHash"]).hex()
                events.append(
                    Event(decoder.name, JobId(args["jobId"]), args, entry["blockNumber"], tx, terms)
                )
        return events

    def _reorged(self, cursor: tuple[int, str], latest: Any) -> bool:
        """True (after rewinding the cursor to the fork point) if the cursor's block was replaced."""
        number, known = cursor
        w3 = self.chain.w3
        head = int(latest["number"])
        # The head block answers for itself and its parent: an idle step costs no extra request.
        if number == head and latest["hash"].hex() == known:
            return False
        if number == head - 1 and latest.get("parentHash") is not None:
            if latest["parentHash"].hex() == known:
                return False
        else:
            block = w3.eth.get_block(number) if number <= head else None
            if block is not None and block["hash"].hex() == known:
                return False
        self.reorgs += 1
        for n in range(number - 1, max(self.start_block - 1, number - self.reorg_depth) - 1, -1):
            stored = self.store.block_hash(n)
            if stored is None:
                continue
            if w3.eth.get_block(n)["hash"].hex() == stored:
                log.warning("reorg detected at block %d: rewinding ingest to block %d", number, n)
                self.store.rewind(n, stored)
                return True
        fallback = max(self.start_block - 1, number - self.reorg_depth)
        log.warning(
            "reorg detected at block %d: no known fork point, rewinding to block %d",
            number,
            fallback,
        )
        self.store.rewind(fallback, w3.eth.get_block(max(fallback, 0))["hash"].hex())
        return True
