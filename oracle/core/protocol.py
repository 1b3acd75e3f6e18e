"""The chain's shapes in Python: one typed home for the enums and records the contracts define.

Every member mirrors the Solidity declaration of the same name, in the same order (the ABI only
carries the uint8); tests/unit/test_protocol_types.py parses the Solidity sources and fails if the
two drift apart. Node, client, scripts and tests import these instead of comparing bare numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any


class JobStatus(IntEnum):
    """IJobMarket.JobStatus."""

    NONE = 0
    OPEN = 1
    SEATING = 2
    RUNNING = 3
    REVEALING = 4
    ACCEPTED = 5
    PAID = 6
    CANCELLED = 7
    EXPIRED = 8
    FAILED = 9
    OVERTURNED = 10

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def label(self) -> str:
        return self.name.lower()


TERMINAL = frozenset(
    {JobStatus.PAID, JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.FAILED, JobStatus.OVERTURNED}
)
# Statuses a keeper's `expire` moves on once their deadline passed.
EXPIRABLE = frozenset({JobStatus.OPEN, JobStatus.SEATING, JobStatus.RUNNING, JobStatus.REVEALING})


class SeatState(IntEnum):
    """IJobMarket.SeatState."""

    NONE = 0
    DRAWN = 1
    CLAIMED = 2
    COMMITTED = 3
    REVEALED = 4
    DROPPED = 5

    @property
    def holds_collateral(self) -> bool:
        return self in (SeatState.CLAIMED, SeatState.COMMITTED, SeatState.REVEALED)


class SkipReason(IntEnum):
    """IJobMarket.SkipReason: why a proof in a batch was skipped."""

    WRONG_STATUS = 0
    DEADLINE_PASSED = 1
    WRONG_SEAT_STATE = 2


class NodeStatus(IntEnum):
    """INodeRegistry.NodeStatus."""

    INACTIVE = 0
    ACTIVE = 1
    JAILED = 2
    RETIRED = 3


class Outcome(IntEnum):
    """INodeRegistry.Outcome of released collateral."""

    NO_FAULT = 0
    COMPLETED = 1
    FAILED = 2


class HeartbeatSkip(IntEnum):
    """IRewards.HeartbeatSkip."""

    NOT_OPERATOR = 0
    NOT_ACTIVE = 1
    MISSED_SEAT = 2


# Solidity enum name -> Python mirror (checked against the sources by the tests).
SOLIDITY_ENUMS: dict[str, type[IntEnum]] = {
    "JobStatus": JobStatus,
    "SeatState": SeatState,
    "SkipReason": SkipReason,
    "NodeStatus": NodeStatus,
    "Outcome": Outcome,
    "HeartbeatSkip": HeartbeatSkip,
}


@dataclass(frozen=True)
class Capabilities:
    cpuCores: int
    memoryMb: int
    gpuCount: int
    gpuMemoryMb: int
    gpuClass: int

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.cpuCores, self.memoryMb, self.gpuCount, self.gpuMemoryMb, self.gpuClass)

    def meets(self, need: Capabilities) -> bool:
        """Every field at least `need`'s, as `NodeRegistry.meets` decides."""
        return all(h >= n for h, n in zip(self.as_tuple(), need.as_tuple(), strict=True))


@dataclass(frozen=True)
class NodeRecord:
    """INodeRegistry.Node (`NodeRegistry.node(nodeId)`)."""

    operator: str
    status: NodeStatus
    jailedUntil: int
    capabilities: Capabilities
    stake: int  # bonded, includes `locked`
    locked: int  # collateral held for claimed jobs
    unbonding: int
    unbondingReleaseAt: int
    completed: int
    failed: int
    slashed: int

    @classmethod
    def from_raw(cls, raw: Any) -> NodeRecord:
        values = dict(zip([f.name for f in fields(cls)], raw, strict=True))
        values["status"] = NodeStatus(values["status"])
        values["capabilities"] = Capabilities(*values["capabilities"])
        return cls(**values)

    @property
    def free_stake(self) -> int:
        return self.stake - self.locked


@dataclass(frozen=True)
class Job:
    """IJobMarket.Job as `market.job(jobId)` returns it. The bundle hash is not in it: the market
    only emits it (`JobCreated`, a topic), and nodes and clients keep it from there."""

    payment: int
    collateral: int
    deadline: int
    status: JobStatus
    k: int
    round: int
    client: str
    requirements: Capabilities
    claims: int
    commits: int
    reveals: int
    replicaCount: int
    seated: int
    redraws: int
    protocolFeeBps: int
    keeperBountyBps: int
    claimWindow: int
    executionWindow: int
    revealWindow: int
    disputeWindow: int
    drawBlock: int
    commitment: bytes
    disputer: str

    @classmethod
    def from_raw(cls, raw: Any) -> Job:
        values = dict(zip([f.name for f in fields(cls)], raw, strict=True))
        values["status"] = JobStatus(values["status"])
        values["requirements"] = Capabilities(*values["requirements"])
        values["commitment"] = bytes(values["commitment"])
        return cls(**values)

    @classmethod
    def created(cls, args: Mapping[str, Any]) -> Job:
        """A k = 1 job exactly as `JobCreated` (its decoded `args`) leaves it: Open, no seat yet.
        Every term is in the event, so a reader that follows the job's events (`flow.advance`)
        needs no `job()` call for it. k >= 3 jobs are not built here: their draw anchor is another
        event, and their seats come from the draw."""
        if int(args["replicas"]) != 1:
            raise ValueError(f"job {args['jobId']}: only a k = 1 job is built from JobCreated")
        req = args["requirements"]
        if isinstance(req, Mapping):
            req = [req[f.name] for f in fields(Capabilities)]
        return cls(
            payment=int(args["payment"]),
            collateral=int(args["collateral"]),
            deadline=int(args["claimDeadline"]),
            status=JobStatus.OPEN,
            k=1,
            round=0,
            client=str(args["client"]),
            requirements=Capabilities(*(int(v) for v in req)),
            claims=0,
            commits=0,
            reveals=0,
            replicaCount=0,
            seated=0,
            redraws=0,
            protocolFeeBps=int(args["protocolFeeBps"]),
            keeperBountyBps=int(args["keeperBountyBps"]),
            claimWindow=int(args["claimWindow"]),
            executionWindow=int(args["executionWindow"]),
            revealWindow=int(args["revealWindow"]),
            disputeWindow=int(args["disputeWindow"]),
            drawBlock=0,
            commitment=b"\x00" * 32,
            disputer="0x" + "00" * 20,
        )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def disputed(self) -> bool:
        """A k = 1 job someone disputed (its later rounds are juries)."""
        return int(self.disputer, 16) != 0

    @property
    def single(self) -> bool:
        """A k = 1 job: claimed open, proven optimistically, disputable."""
        return self.k == 1 or self.disputed

    @property
    def original_reveals(self) -> bool:
        """The round is a k = 1 job's first jury: the original node reveals next to the jurors."""
        return self.round == 1 and self.disputed


@dataclass(frozen=True)
class Seat:
    """IJobMarket.Replica: one seat of a job (any round)."""

    nodeId: int
    state: SeatState
    round: int
    acceptDeadline: int
    operator: str
    commitment: bytes

    @classmethod
    def from_raw(cls, raw: Any) -> Seat:
        node_id, state, rnd, accept_deadline, operator, commitment = raw
        return cls(
            int(node_id),
            SeatState(state),
            int(rnd),
            int(accept_deadline),
            str(operator),
            bytes(commitment),
        )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


MARKET_PARAMETER_FIELDS = (
    "protocolFeeBps",
    "keeperBountyBps",
    "minCollateralBps",
    "disputeReplicas",
    "minJobFee",
    "acceptWindow",
)
