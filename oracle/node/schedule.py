"""Schedule stage: which jobs this node takes, and which drawn seats it accepts.

A k = 1 job is claimed only if one of our nodes can run it (active, capabilities, free stake for
the collateral, not already seated), a worker is free, and it pays more than it costs: the gas of
claim, proof and finalize at the current fee plus the compute at the node's own price. A drawn
seat (k >= 3, a dispute jury, an escalated round) is accepted on the same checks for the one node
the contract drew, except that refusing it is not free: the seat penalty comes out of our stake
(and the epoch's availability share is lost), so a seat is worth taking while what it pays plus the
penalty it avoids covers its cost. That keeps jurors of an escalated round, paid only from the
liars' collateral, at their seats: an unseated escalation would let the captured verdict stand.
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle.core.protocol import Job, JobStatus, NodeRecord, NodeStatus

BPS = 10_000
SEAT_PENALTY_BPS = 1_000  # MarketSettlement.SEAT_PENALTY_BPS: of the collateral, for a seat refused


@dataclass(frozen=True)
class Backlog:
    """The runs a node holds (running, claimed and not started, quoted) and the sum of their
    worst cases (preflight's time limit x steps plus the proof margin)."""

    runs: int = 0
    worst_s: float = 0.0

    def plus(self, other: Backlog) -> Backlog:
        return Backlog(self.runs + other.runs, self.worst_s + other.worst_s)

    def wait_s(self, workers: int) -> float:
        """Worst-case seconds before a run taken now starts: none while a worker is free, else
        the held worst cases shared by the workers."""
        return 0.0 if self.runs < workers else self.worst_s / max(workers, 1)

    def refuses(self, workers: int, worst_case_s: float, window_s: int) -> str | None:
        """Why a run of `worst_case_s` taken now might miss its `window_s`, or None. Taking work
        only when it fits behind everything held, even if every run takes its whole time limit,
        is what lets the node hold a deep queue without ever losing collateral to a deadline."""
        wait = self.wait_s(workers)
        if wait + worst_case_s <= window_s:
            return None
        return (f"worst case {worst_case_s:g}s behind {wait:.0f}s of held work"
                f" ({self.runs} runs on {workers} workers) exceeds the {window_s}s window")  # fmt: skip


@dataclass
class Decision:
    take: bool
    node_id: int | None
    reason: str


def estimate_cost(
    gas_price_wei: int, gas_limit: int, cpu_seconds: float, price_per_cpu_s: int
) -> int:
    """Cost in TES wei, with gas priced 1 TES wei per wei (a node sets its own price for compute;
    a production node would convert ETH to TES with an oracle price — see docs/oracle.md)."""
    return gas_price_wei * gas_limit + int(cpu_seconds * price_per_cpu_s)


def earnings_per_seat(job: Job) -> int:
    """What one agreeing seat earns: a share of the payment net of the job's own fee rate (fixed at
    creation) in round 0; in a jury or escalated round (round >= 1), about a share of one
    collateral: the wrong disputer's bond or the wrong seats' seized collateral."""
    if job.round >= 1:
        return job.collateral // max(job.k, 1)
    return job.payment * (BPS - job.protocolFeeBps) // BPS // max(job.k, 1)


def seat_value(job: Job, drawn: bool) -> int:
    """What taking a seat is worth: its pay, plus for a drawn seat the penalty refusing it costs."""
    return earnings_per_seat(job) + (seat_penalty(job) if drawn else 0)


def seat_penalty(job: Job) -> int:
    """What refusing (letting lapse) a drawn seat of `job` costs from stake."""
    return job.collateral * SEAT_PENALTY_BPS // BPS


def _unfit(node_id: int, node: NodeRecord, job: Job) -> str | None:
    """Why `node` cannot take a seat of `job`, or None."""
    if node.status != NodeStatus.ACTIVE:
        return f"node {node_id} not active"
    if not node.capabilities.meets(job.requirements):
        return f"node {node_id} lacks capabilities {job.requirements.as_tuple()}"
    if node.free_stake < job.collateral:
        return f"node {node_id} has too little free stake"
    return None


def decide(
    job: Job,
    nodes: dict[int, NodeRecord],
    seated: set[int],
    seated_operators: set[str],
    operator: str,
    free_workers: int,
    cost: int,
    min_margin: float,
) -> Decision:
    """Claim an Open k = 1 job? `nodes` maps our node ids to registry `node()` views."""
    if job.status != JobStatus.OPEN:
        return Decision(False, None, f"job not open ({job.status.label})")
    if free_workers <= 0:
        return Decision(False, None, "no free worker")
    if operator.lower() in seated_operators:
        return Decision(False, None, "this operator already holds a seat of the job")
    net = earnings_per_seat(job)
    if net < cost * (1 + min_margin):
        return Decision(False, None, f"pays {net} per seat, costs {cost}: below margin")
    reasons = []
    for node_id, node in sorted(nodes.items()):
        if node_id in seated:
            reasons.append(f"node {node_id} already seated")
            continue
        if (why := _unfit(node_id, node, job)) is not None:
            reasons.append(why)
            continue
        return Decision(True, node_id, "ok")
    return Decision(False, None, "; ".join(reasons) or "no node")


def decide_seat(
    job: Job, node_id: int, node: NodeRecord, free_workers: int, cost: int, min_margin: float
) -> Decision:
    """Accept the seat `node_id` was drawn for in a Seating job?"""
    if job.status != JobStatus.SEATING:
        return Decision(False, None, f"job not seating ({job.status.label})")
    if free_workers <= 0:
        return Decision(False, None, "no free worker")
    net = seat_value(job, drawn=True)
    if net < cost * (1 + min_margin):
        return Decision(
            False,
            None,
            f"pays {net} per seat with the refusal penalty avoided, costs {cost}: below margin",
        )
    if (why := _unfit(node_id, node, job)) is not None:
        return Decision(False, None, why)
    return Decision(True, node_id, "ok")
