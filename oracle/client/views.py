"""What the client knows of a job and checks a result against, without a chain: the job with its
seats (`JobView`), what its program did (`JobOutcome`, read from a fetched result), the k = 1
salt kept next to a result (`SaltRecord`), which nodes serve the accepted result and whether
files are it (`check_result`), and why a job may sit unclaimed (`capacity_warnings`).

What a fetched result is checked against (protocol v2, docs/protocol.md "Nothing to copy"):
  * k = 1, undisputed: the chain holds only the salted commitment keccak(jobId, nodeId, resultHash,
    salt), or its 160-bit fingerprint (a one-slot job); the node sends the salt with the files
    (X-TES-Salt) and the check recomputes it.
  * k = 1 after a dispute that upheld it: seat 0 revealed, so its `commitment` is the result hash.
  * k >= 3, paid: `job.commitment` is the accepted result hash itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.client.errors import ClientError, ResultMismatch
from oracle.client.inputs import fmt_tes
from oracle.core.protocol import (
    Capabilities,
    Job,
    JobStatus,
    JobTerms,
    NodeRecord,
    NodeStatus,
    Seat,
    SeatState,
    job_hex,
    parse_job_id,
)
from oracle.core.prove import commitment_of, opens
from oracle.execute.base import STATUS_FILE

MAX_RESULT_BYTES = 1 << 30
SALT_SUFFIX = ".tes-salt"  # <dest>.tes-salt: {"job_id", "node_id", "salt"} of a fetched result
SALT_HEADER = "X-TES-Salt"
NODE_HEADER = "X-TES-Node"
ZERO32 = b"\x00" * 32
PEEK_BYTES = 64 * 1024  # a failure record (status + 2 KiB of stderr) is far smaller


@dataclass(frozen=True)
class JobOutcome:
    """What the job's program did, from its result: succeeded, or failed with the status record
    the sandbox wrote (docs/bundle.md "A failed job still has a result")."""

    failed: bool
    status: str  # "ok", or the record's: failed, timeout, limit...
    exit_code: int | None = None
    limit: str | None = None
    shard: int | None = None
    stderr_tail: str = ""

    @property
    def label(self) -> str:
        """'job failed: exit 1', 'job failed: timeout (wall_time_s)'; '' for a success."""
        if not self.failed:
            return ""
        if self.status == "failed" and self.exit_code is not None:
            what = (
                f"exit {self.exit_code}"
                if 0 < self.exit_code < 128
                else (
                    f"killed by signal {self.exit_code - 128}"
                    if self.exit_code > 128
                    else "invalid output"
                )
            )
        elif self.limit:
            what = f"{self.status}, over its {self.limit} limit"
        else:
            what = self.status
        return f"job failed: {what}" + (f" in shard {self.shard}" if self.shard is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {"failed": self.failed, "status": self.status, "exit_code": self.exit_code, "limit": self.limit,
                "shard": self.shard, "stderr_tail": self.stderr_tail}  # fmt: skip


def outcome_of(result_dir: Path) -> JobOutcome:
    """Reads a fetched result: a directory holding only a status record whose status is not
    "ok" is a failed run (its exit code, limit and stderr tail); anything else succeeded."""
    result_dir = Path(result_dir)
    files = [p for p in result_dir.rglob("*") if p.is_file()]
    if len(files) != 1 or files[0] != result_dir / STATUS_FILE:
        return JobOutcome(failed=False, status="ok")
    try:
        record = json.loads(files[0].read_text())
    except (ValueError, UnicodeDecodeError):
        return JobOutcome(failed=False, status="ok")  # a job's own file of that name
    if not isinstance(record, dict) or record.get("status") in (None, "ok"):
        return JobOutcome(failed=False, status="ok")
    code, shard = record.get("exit_code"), record.get("shard")
    return JobOutcome(failed=True, status=str(record["status"]), exit_code=code if isinstance(code, int) else None,
                      limit=record.get("limit"), shard=shard if isinstance(shard, int) else None,
                      stderr_tail=str(record.get("stderr_tail") or ""))  # fmt: skip


def _caps_text(c: Capabilities) -> str:
    text = f"cpus={c.cpuCores}, memory={c.memoryMb} MiB"
    if c.gpuCount:
        text += f", gpus={c.gpuCount}" + (f" x {c.gpuMemoryMb} MiB" if c.gpuMemoryMb else "")
    if c.gpuClass:
        text += f", gpu class {c.gpuClass}"
    return text


def _misses(have: Capabilities, need: Capabilities) -> list[str]:
    fields = (("cpus", "cpuCores", ""), ("memory", "memoryMb", " MiB"), ("gpus", "gpuCount", ""),
              ("GPU memory", "gpuMemoryMb", " MiB"), ("gpu class", "gpuClass", ""))  # fmt: skip
    return [f"{label} {getattr(have, f)}{unit} < {getattr(need, f)}{unit}"
            for label, f, unit in fields if getattr(have, f) < getattr(need, f)]  # fmt: skip


@dataclass(frozen=True)
class JobView:
    """A job as the chain holds it (`oracle.core.protocol.Job`) with every seat it ever had."""

    job_id: int
    job: Job
    seats: tuple[Seat, ...]
    # From the job's JobCreated event (the market does not store it); empty if not looked up.
    bundle_hash: bytes = b""
    # The job's terms from that event, checked against the id: what `cancel` and `dispute`
    # pass back to the market. None if not looked up.
    terms: JobTerms | None = None

    @property
    def status(self) -> JobStatus:
        return self.job.status

    @property
    def single(self) -> bool:
        """A k = 1 job (open claim, disputable): its k becomes the jury size once disputed."""
        return self.job.single

    @property
    def original(self) -> Seat | None:
        """Seat 0 of a k = 1 job: the node that ran it (and must reveal if it is disputed)."""
        return self.seats[0] if self.single and self.seats else None

    @property
    def result_hash(self) -> bytes | None:
        """The result hash when the chain shows it: k >= 3 once a majority agreed (Paid); k = 1
        only when the original node revealed it in a dispute. None for an undisputed k = 1 job,
        whose chain record is the salted commitment."""
        if self.single:
            seat = self.original
            if seat is not None and seat.state == SeatState.REVEALED:
                return seat.commitment
            return None
        if self.status == JobStatus.PAID and self.job.commitment != ZERO32:
            return self.job.commitment
        return None

    @property
    def commitment(self) -> bytes | None:
        return None if self.job.commitment == ZERO32 else self.job.commitment

    def to_dict(self) -> dict[str, Any]:
        f = self.job.as_dict()
        f["commitment"] = "0x" + bytes(f["commitment"]).hex()
        f["bundleHash"] = "0x" + self.bundle_hash.hex()
        f["status"] = self.status.label
        f["requirements"] = list(vars(f["requirements"]).values())
        seats = [{"node_id": seat.nodeId, "state": seat.state.name.lower(), "round": seat.round,
                  "accept_deadline": seat.acceptDeadline, "operator": seat.operator,
                  "commitment": "0x" + seat.commitment.hex()} for seat in self.seats]  # fmt: skip
        rh = self.result_hash
        return {
            "job_id": job_hex(self.job_id),
            **f,
            "result_hash": "0x" + rh.hex() if rh else None,
            "replicas": seats,
        }


@dataclass(frozen=True)
class SaltRecord:
    """What a node sent with a k = 1 result: the seat's node and the salt of its commitment."""

    job_id: int
    node_id: int
    salt: bytes

    def write(self, dest: Path) -> Path:
        path = salt_path(dest)
        path.write_text(
            json.dumps(
                {
                    "job_id": job_hex(self.job_id),
                    "node_id": self.node_id,
                    "salt": "0x" + self.salt.hex(),
                }
            )
            + "\n"
        )
        return path

    @classmethod
    def read(cls, result_dir: Path) -> SaltRecord | None:
        path = salt_path(result_dir)
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text())
            return cls(parse_job_id(str(d["job_id"])), int(d["node_id"]), parse_salt(d["salt"]))
        except (ValueError, KeyError, TypeError) as err:
            raise ClientError(
                f"{path} is not a salt record written by `tes-client fetch`: {err}"
            ) from err


def salt_path(result_dir: Path) -> Path:
    """The salt lives next to the result, not in it: the result hash covers every file inside."""
    result_dir = Path(result_dir)
    return result_dir.with_name(result_dir.name + SALT_SUFFIX)


def parse_salt(text: str) -> bytes:
    raw = str(text).strip().removeprefix("0x")
    if len(raw) != 64:
        raise ClientError(f"a salt is 32 bytes as 0x + 64 hex digits, got {text!r}")
    try:
        return bytes.fromhex(raw)
    except ValueError as err:
        raise ClientError(f"a salt is 32 bytes as 0x + 64 hex digits, got {text!r}") from err


# ---------------------------------------------------------------- checks of a result
def fetchable(view: JobView) -> None:
    """Nodes serve a result only once copying it can no longer pay: a k = 1 result after its
    proof (Accepted, Paid), a k >= 3 result once paid."""
    ready = {JobStatus.ACCEPTED, JobStatus.PAID} if view.single else {JobStatus.PAID}
    if view.status in ready:
        return
    if view.status == JobStatus.OVERTURNED:
        raise ClientError(f"job {view.job_id}'s result was overturned by a jury: there is none to fetch"
                          " (your payment was refunded to your market balance: your next `submit`"
                          " spends it, or `tes-client withdraw`)")  # fmt: skip
    if view.job.round >= 1:
        why = (
            "disputed" if view.single else "re-run by a larger drawn round (its replicas disagreed)"
        )
        raise ClientError(f"job {view.job_id} is {why} ({view.status.label}): wait for the verdict")
    when = (
        "once it is proven (accepted)" if view.single else "once the replicas agreed and it is paid"
    )
    raise ClientError(f"job {view.job_id} has no result to fetch yet (status: {view.status.label});"
                      f" nodes serve it {when}")  # fmt: skip


def sources(view: JobView) -> list[int]:
    """The nodes whose seat produced the accepted result, in the order to ask them."""
    if view.single:
        return [view.original.nodeId] if view.original else []
    return [seat.nodeId for seat in view.seats
            if seat.round == 0 and seat.state == SeatState.REVEALED and seat.commitment == view.job.commitment]  # fmt: skip


def check_result(view: JobView, got: bytes, salt: SaltRecord | None) -> None:
    """Raises ClientError unless files hashing to `got` are the job's accepted result."""
    expected = view.result_hash
    if expected is not None:  # k >= 3 paid, or a k = 1 result revealed in a dispute
        if got != expected:
            raise ResultMismatch(
                f"files hash to 0x{got.hex()}, the chain's result is 0x{expected.hex()}"
            )
        return
    if not view.single or view.commitment is None:
        raise ClientError(
            f"job {view.job_id} has no accepted result on chain (status: {view.status.label})"
        )
    # k = 1, undisputed: only keccak(jobId, nodeId, resultHash, salt) is on chain.
    if salt is None:
        raise ClientError(
            f"job {view.job_id} is k = 1: its chain record is a salted commitment, so checking files needs the"
            f" node's salt (kept as <dir>{SALT_SUFFIX} by `tes-client fetch`, or pass --salt)"
        )
    if salt.job_id != view.job_id:
        raise ClientError(f"the salt record is for job {salt.job_id}, not job {view.job_id}")
    node_id = view.original.nodeId  # type: ignore[union-attr]
    if salt.node_id != node_id:
        raise ResultMismatch(
            f"the salt came from node {salt.node_id}, but job {view.job_id} ran on node {node_id}"
        )
    mine = commitment_of(view.job_id, node_id, got, salt.salt)
    if not opens(view.commitment, mine):
        raise ResultMismatch(
            f"files hash to 0x{got.hex()}; with node {node_id}'s salt that commits to 0x{mine.hex()},"
            f" the chain's commitment is 0x{view.commitment.hex()}"
        )


def salt_of(job_id: int, node_id: int, headers: Any, *, required: bool) -> SaltRecord | None:
    """The salt a node sent (X-TES-Salt) for its own seat (X-TES-Node)."""
    salt, node = headers.get(SALT_HEADER), headers.get(NODE_HEADER)
    if salt is None or node is None:
        if required:
            raise ClientError(f"the node sent no {SALT_HEADER}/{NODE_HEADER} header, so its k = 1 result cannot be"
                              " checked against the salted commitment (does it run an older tes-node?)")  # fmt: skip
        return None
    try:
        sender = int(node)
    except ValueError as err:
        raise ClientError(f"{NODE_HEADER} {node!r} is not a node id") from err
    if sender != node_id:
        raise ClientError(f"it answered as node {sender}, not node {node_id}")
    return SaltRecord(job_id, node_id, parse_salt(salt))


def capacity_warnings(
    nodes: list[tuple[int, NodeRecord]], need: Capabilities, replicas: int, collateral: int
) -> list[str]:
    """Why a job may sit unclaimed, from the NodeRegistry's records (`nodes`): no active node
    meets its requirements (with the closest misses), or fewer than k do. Empty when
    enough nodes could take it. Nodes also need `collateral` of free stake per seat."""
    active = [
        (i, n) for i, n in nodes if n.status == NodeStatus.ACTIVE and int(n.operator, 16) != 0
    ]
    fit = [(i, n) for i, n in active if n.capabilities.meets(need) and n.free_stake >= collateral]
    if len(fit) >= replicas:
        return []
    want = _caps_text(need)
    if not active:
        return [f"no node is active on this network ({len(nodes)} licences): nobody will run the job"
                " until a node operator starts one"]  # fmt: skip
    misses = []
    for i, n in active:
        if (i, n) in fit:
            continue
        why = _misses(n.capabilities, need)
        if n.free_stake < collateral:
            why.append(f"free stake {fmt_tes(n.free_stake)} < collateral {fmt_tes(collateral)}")
        misses.append(f"node {i}: " + ", ".join(why))
    detail = "; ".join(misses[:3]) + ("; ..." if len(misses) > 3 else "")
    if not fit:
        return [f"no active node meets the job's requirements ({want}, {fmt_tes(collateral)} collateral):"
                f" {detail}. It will sit unclaimed until one does; lower the resources in the"
                " manifest or wait for such a node"]  # fmt: skip
    return [f"only {len(fit)} of {len(active)} active nodes meet the job's requirements ({want}),"
            f" fewer than k = {replicas}: its seats cannot all be filled and it will expire"
            f" unless more nodes join ({detail}); a smaller --replicas fits"]  # fmt: skip
