"""When the node hands a job's result to its client (the results endpoint, oracle/node/serve.py).

Only once copying it can no longer pay: a k = 1 result after our proof is in (the job Accepted or
Paid: the commitment is fixed, and a client holding the files and salt can check them against
it); a drawn seat's (k >= 3, or a juror's) only once the job is Paid (before, another seat could
copy it instead of running the job). A result retention pruned (oracle/node/retention.py) is `gone`:
the endpoint answers 410, not 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oracle.core.errors import ResultError
from oracle.core.protocol import Job, JobStatus
from oracle.core.results import ResultStore

AFTER_PROOF = frozenset({JobStatus.ACCEPTED, JobStatus.PAID})
AFTER_PAYMENT = frozenset({JobStatus.PAID})


@dataclass(frozen=True)
class ResultOffer:
    """What the results endpoint may hand the job's client: the archive, and what the client needs
    to check it against the chain (k = 1: commitment_of(jobId, node, hash(files), salt))."""

    client: str
    archive: Path | None = None
    node_id: int | None = None
    salt: bytes | None = None
    reason: str = ""
    gone: bool = False  # the result was held and has been pruned (retention): 410, not 404


def offer(
    view: Job,
    job: dict[str, Any] | None,
    is_original_seat: Callable[[int], bool],
    results: ResultStore,
    retention_s: float,
) -> ResultOffer:
    """The offer for `view`'s client, from our store row `job` (None: never ours).
    `is_original_seat(node_id)` says whether our seat is the job's first (the k = 1 original)."""
    if not job or not job["result_hash"] or not job["salt"] or job["node_id"] is None:
        return ResultOffer(view.client, reason="no result for this job on this node")
    node_id = int(job["node_id"])
    original_k1 = job["replicas"] == 1 and is_original_seat(node_id)
    if view.status not in (AFTER_PROOF if original_k1 else AFTER_PAYMENT):
        return ResultOffer(
            view.client, reason=f"result not released while the job is {view.status.label}"
        )
    digest = bytes.fromhex(job["result_hash"])
    try:
        archive = results.archive(digest)
    except (ResultError, OSError):
        if results.has(digest):
            raise
        archive = None  # pruned while we looked
    if archive is None:
        return ResultOffer(
            view.client,
            reason=f"result pruned: kept {retention_s:.0f}s after the job settled (retention)",
            gone=True,
        )
    return ResultOffer(view.client, archive, node_id, bytes.fromhex(job["salt"]))
