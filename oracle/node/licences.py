"""The licences this node's key operates, as the registry records them (issue [4/7] 5: one module
per node stage).

The loop needs each licence's record (status, stake, locked collateral, capabilities) to decide
what it can take, and each owner (who a settlement pays). They change rarely and mostly by our own
hand, so a step reads them only when they may have changed (`stale`): an event about one of our
licences or a job one of them sits in (at most every EVENT_REFRESH_S: in a burst such events come
every poll, and the contract checks each claim and quote against the real stake in between), after
a transaction of ours bound a licence (the loop calls `refresh`), and every REFRESH_S regardless
(an owner's own stake, unbond or binding; owners are read only then, or for a new licence).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from web3 import Web3

from oracle.core.chain import Chain
from oracle.core.protocol import NodeRecord, NodeStatus
from oracle.node.ingest import Event
from oracle.node.store import Store

# Our licences' registry records (and owners) are read again at least this often.
REFRESH_S = 10.0
# After an event about our licences or their jobs, the records are read again, at most this often.
EVENT_REFRESH_S = 1.0
OPERATOR_BOUND = bytes(Web3.keccak(text="OperatorBound(uint256,address)"))  # its topic 0


class Licences:
    def __init__(
        self,
        chain: Chain,
        operator: str,
        node_ids: list[int],
        reorg_depth: int,
        head: Callable[[], int],
    ):
        self.chain, self.operator = chain, operator.lower()
        self.node_ids, self.reorg_depth, self.head = node_ids, reorg_depth, head
        self.records: dict[int, NodeRecord] = {}
        self.owner_of: dict[int, str] = {}  # node id -> its licence owner (who a settlement pays)
        self.read_at: float | None = None  # None: read at the next `stale`
        self._owners_at: float | None = None  # when every owner was last read
        self._dirty = False  # an event since `read_at` may have changed a record
        self._epoch_clock: tuple[int, int] | None = None  # Rewards' (genesisTime, epochLength)
        self._beat_epoch: int | None = None  # the rewards epoch of our last heartbeat
        self._candidates: set[int] = set()  # licences ever bound to this key (`bound`)
        self._scanned = 0  # first block the next `bound` scan need not repeat

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.records

    def __iter__(self):
        return iter(self.records)

    def active(self) -> list[int]:
        return sorted(i for i, n in self.records.items() if n.status == NodeStatus.ACTIVE)

    def heartbeat_due(self, chain_time: int) -> dict[str, Any] | None:
        """The heartbeat intent's payload once per rewards epoch for our active licences (their
        availability share), else None. Repeating one after a restart is harmless: the contract
        counts a node once per epoch, and skips (HeartbeatSkipped) a node that is not ours or not
        active instead of reverting."""
        if self._epoch_clock is None:  # immutables of Rewards: read once
            rewards = self.chain.rewards.functions
            self._epoch_clock = (rewards.genesisTime().call(), rewards.epochLength().call())
        genesis, length = self._epoch_clock
        # Rewards.currentEpoch(), without a call per step
        epoch = (chain_time - genesis) // length if chain_time >= genesis else 0
        active = self.active()
        if epoch == self._beat_epoch or not active:
            return None
        self._beat_epoch = epoch
        return {"node_ids": active, "epoch": epoch}

    def proposed_to_us(self) -> list[int]:
        """The configured licences (`--node-id`) not yet ours whose owner proposed this key as
        their operator. Without a configured list nothing is: the operator names what it runs."""
        reg = self.chain.registry.functions
        return [
            i
            for i in self.node_ids
            if i not in self.records and reg.pendingOperatorOf(i).call().lower() == self.operator
        ]

    def refresh(self) -> None:
        """Reads the record and owner of every licence we serve (configured `node_ids`, or every
        licence ever bound to this key) and keeps those this key operates now."""
        reg = self.chain.registry.functions
        ids = self.node_ids or self.bound()
        records = {i: NodeRecord.from_raw(reg.node(i).call()) for i in ids}
        self.records = {i: n for i, n in records.items() if n.operator.lower() == self.operator}
        now = time.monotonic()
        every = self._owners_at is None or now - self._owners_at > REFRESH_S
        known = {} if every else self.owner_of
        self.owner_of = {i: known.get(i) or reg.ownerOfNode(i).call() for i in self.records}
        if every:
            self._owners_at = now
        self.read_at, self._dirty = now, False

    def stale(self, events: Iterable[Event], store: Store) -> bool:
        """Whether the records may have changed since they were read and are due to be read again
        (see the module's docstring)."""
        if self.read_at is None or time.monotonic() - self.read_at > REFRESH_S:
            return True
        if not self._dirty:
            self._dirty = any(self._touches(ev, store) for ev in events)
        return self._dirty and time.monotonic() - self.read_at >= EVENT_REFRESH_S

    def _touches(self, ev: Event, store: Store) -> bool:
        """The event names one of our licences, or a job one of them sits in."""
        node_id = ev.args.get("nodeId")
        if node_id is not None and int(node_id) in self.records:
            return True
        row = store.job(ev.job_id)
        return row is not None and row["node_id"] is not None

    def bound_in(self, receipts: Iterable[Any]) -> bool:
        """Whether one of these receipts (our own transactions) bound a licence to an operator
        (`OperatorBound`): the records are read again at once. The stake our claims, proofs and
        settlements lock and release is read when ingest hands their events over (`stale`), one
        poll on; the contracts check every transaction against the real records in between."""
        registry = self.chain.registry.address.lower()
        return any(
            str(entry["address"]).lower() == registry
            and entry["topics"]
            and bytes(entry["topics"][0]) == OPERATOR_BOUND
            for receipt in receipts
            for entry in receipt["logs"]
        )

    def bound(self) -> list[int]:
        """Licences an `OperatorBound` event ever named this key for (`refresh` keeps those it
        still operates). Scanned incrementally: one eth_getLogs over the blocks since the last
        scan, not a call per licence ever minted. The last `reorg_depth` blocks are scanned again,
        so a binding a reorg moved to another block is still found."""
        head = self.head()
        start = max(self._scanned - self.reorg_depth, self.chain.deployment_block)
        if head >= start:
            logs = self.chain.registry.events.OperatorBound.get_logs(
                from_block=start, to_block=head, argument_filters={"operator": self.operator}
            )
            self._candidates |= {int(entry["args"]["nodeId"]) for entry in logs}
            self._scanned = head + 1
        return sorted(self._candidates)
