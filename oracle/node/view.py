"""What the node reads from the chain within one step, read once (issue [4/7]: a typed per-step view).

Every stage of a step asks the same questions (the job, its seats, the block, the time, the gas
price); the answers cannot change within a step that sends nothing, and after a transaction the
node calls `reset()`. Each answer is a typed record (`Job`, `Seat`) built from the contract's
tuple. The view is the node's only reader of per-job contract state, so the RPC cost of a step is
the number of distinct questions, not the number of places that ask.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from oracle.core.chain import Chain
from oracle.core.protocol import Job, Seat, SeatState

T = TypeVar("T")


class StepView:
    def __init__(self, chain: Chain):
        self.chain = chain
        self._answers: dict[Any, Any] = {}

    def reset(self) -> None:
        """Forget every answer: the next question reads the chain again."""
        self._answers = {}

    def per_step(self, key: Any, read: Callable[[], T]) -> T:
        """`read()` once per step for `key`; the same answer after that."""
        if key not in self._answers:
            self._answers[key] = read()
        return self._answers[key]

    def job(self, job_id: int) -> Job:
        market = self.chain.market.functions
        return self.per_step(("job", job_id), lambda: Job.from_raw(market.job(job_id).call()))

    def seats(self, job_id: int, view: Job) -> list[Seat]:
        """Every seat of the job, both rounds, dropped ones included, in the contract's order."""
        market = self.chain.market.functions
        return [
            self.per_step(
                ("seat", job_id, i),
                lambda i=i: Seat.from_raw(market.replica(job_id, i).call()),  # type: ignore[misc]
            )
            for i in range(view.replicaCount)
        ]

    def seat_of(self, job_id: int, view: Job, node_id: int) -> Seat | None:
        """`node_id`'s live seat (a node sits at most once per job; a dropped seat is gone)."""
        found = None
        for seat in self.seats(job_id, view):
            if seat.nodeId == node_id and seat.state != SeatState.DROPPED:
                found = seat
        return found

    def my_seat(self, job_id: int, view: Job, ours: Collection[int]) -> tuple[int, Seat] | None:
        """The live seat of one of the nodes in `ours`, as (node id, seat). By node id, not by the
        seat's operator: a drawn seat records the operator at draw time, and a key rotation hands a
        node's seats to its new key."""
        found = None
        for seat in self.seats(job_id, view):
            if seat.nodeId in ours and seat.state != SeatState.DROPPED:
                found = (seat.nodeId, seat)
        return found

    def seat_sets(self, job_id: int, view: Job) -> tuple[set[int], set[str]]:
        """(node ids, operators) already seated in the job, dropped seats included."""
        seats = self.seats(job_id, view)
        return {s.nodeId for s in seats}, {s.operator.lower() for s in seats}

    def block_number(self) -> int:
        return self.per_step("block", lambda: int(self.chain.w3.eth.block_number))

    def chain_time(self) -> int:
        return self.per_step(
            "time", lambda: int(self.chain.w3.eth.get_block("latest")["timestamp"])
        )

    def gas_price(self) -> int:
        return self.per_step("gas_price", lambda: int(self.chain.w3.eth.gas_price))
