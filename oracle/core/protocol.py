"""The chain's shapes in Python: one typed home for the enums and records the contracts define.

Every member mirrors the Solidity declaration of the same name, in the same order (the ABI only
carries the uint8); tests/unit/test_protocol_types.py parses the Solidity sources and fails if the
two drift apart. Node, client, scripts and tests import these instead of comparing bare numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_utils import keccak

ZERO_ADDRESS = "0x" + "00" * 20


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


def job_hex(job_id: int) -> str:
    """A job id as people and text stores write it: 0x and 64 hex digits (an id is the 256-bit
    hash of the job's terms)."""
    return f"0x{job_id:064x}"


class JobId(int):
    """A job id that prints as people write it (`job_hex`): messages and tables built from it
    show the hex id a user can paste back. Arithmetic and JSON see a plain int."""

    def __str__(self) -> str:
        return job_hex(self)

    __repr__ = __str__


def parse_job_id(text: str) -> JobId:
    """A job id typed by a person: 0x-hex (as printed) or decimal."""
    text = text.strip()
    value = int(text, 16) if text.lower().startswith("0x") else int(text)
    if not 0 <= value < 2**256:
        raise ValueError(f"{text} is not a job id (a 256-bit number)")
    return JobId(value)


# abi.encode's type of IJobMarketTypes.JobTerms (tests/unit/test_protocol_types.py checks it
# against the compiled ABI, and the ids against the market's `jobIdOf` and `JobCreated`).
JOB_TERMS_ABI = (
    "(address,bytes32,uint96,uint96,uint8,uint40,uint16,uint16,(uint16,uint32,uint8,uint32,uint8),"
    "uint32,uint32,uint32,uint32,uint64)"
)


@dataclass(frozen=True)
class JobTerms:
    """IJobMarketTypes.JobTerms: everything fixed when the job was created, all in `JobCreated`.
    The job's id is their hash, so terms rebuilt from an event (or a store) are checked, not
    trusted."""

    client: str
    bundleHash: bytes
    payment: int
    collateral: int
    replicas: int
    claimDeadline: int
    protocolFeeBps: int
    keeperBountyBps: int
    requirements: Capabilities
    claimWindow: int
    executionWindow: int
    revealWindow: int
    disputeWindow: int
    nonce: int

    @classmethod
    def created(cls, args: Mapping[str, Any]) -> JobTerms:
        """The terms a `JobCreated` event (its decoded `args`) carries."""
        req = args["requirements"]
        if isinstance(req, Mapping):
            req = [req[f.name] for f in fields(Capabilities)]
        values = {f.name: args[f.name] for f in fields(cls) if f.name != "requirements"}
        ints = {k: int(v) for k, v in values.items() if k not in ("client", "bundleHash")}
        return cls(
            **ints,
            client=str(args["client"]),
            bundleHash=bytes(args["bundleHash"]),
            requirements=Capabilities(*(int(v) for v in req)),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe (a store's column, an API): bytes as 0x-hex, amounts as decimal strings."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["bundleHash"] = "0x" + self.bundleHash.hex()
        out["requirements"] = list(self.requirements.as_tuple())
        out["payment"], out["collateral"] = str(self.payment), str(self.collateral)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JobTerms:
        return cls.created({**d, "bundleHash": bytes.fromhex(d["bundleHash"][2:])})

    def as_tuple(self) -> tuple[Any, ...]:
        values = (getattr(self, f.name) for f in fields(self))
        return tuple(v.as_tuple() if isinstance(v, Capabilities) else v for v in values)

    @property
    def job_id(self) -> int:
        """`JobMarket.jobIdOf(terms)`: uint256(keccak256(abi.encode(terms)))."""
        return int.from_bytes(keccak(encode([JOB_TERMS_ABI], [self.as_tuple()])), "big")


def check_job_id(args: Mapping[str, Any]) -> JobTerms:
    """The terms of a `JobCreated` event, checked against its `jobId`: a log that does not hash to
    its id was not emitted by the market (a lying RPC, a forged log) and is refused."""
    terms = JobTerms.created(args)
    if terms.job_id != int(args["jobId"]):
        raise ValueError(
            f"JobCreated for job {job_hex(int(args['jobId']))}: its terms hash to "
            f"{job_hex(terms.job_id)}; not the market's event"
        )
    return terms


def verified_terms(args: Mapping[str, Any], refused: Callable[[str], None]) -> JobTerms | None:
    """`check_job_id` for a reader that drops what fails: the terms, or None after telling
    `refused` why (node ingest and the SDK's job listing both leave a forged log out)."""
    try:
        return check_job_id(args)
    except ValueError as err:
        refused(str(err))
        return None


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

    def with_terms(self, terms: JobTerms) -> Job:
        """The job with its terms filled in: a one-slot k = 1 job's `job(id)` returns its state
        only (status, deadline, seat, fingerprint) and zeros for the terms, which the market keeps
        only as the id's preimage. `terms` must be the job's, checked against its id (a store's,
        `verified_terms`); for a stored record this changes nothing (the same values)."""
        return replace(
            self,
            payment=terms.payment,
            collateral=terms.collateral,
            client=terms.client,
            requirements=terms.requirements,
            protocolFeeBps=terms.protocolFeeBps,
            keeperBountyBps=terms.keeperBountyBps,
            claimWindow=terms.claimWindow,
            executionWindow=terms.executionWindow,
            revealWindow=terms.revealWindow,
            disputeWindow=terms.disputeWindow,
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
