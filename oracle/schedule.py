"""Schedule stage: which open jobs this node takes.

A job is taken only if one of our nodes can run it (capabilities, free stake for the collateral,
not already a replica), a worker is free, and it pays more than it costs: the gas of claim, proof
and finalize at the current fee plus the compute at the node's own price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPEN = 1


@dataclass
class Decision:
    take: bool
    node_id: int | None
    reason: str


def meets(have: tuple, need: tuple) -> bool:
    """Capabilities tuples (cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass), as the registry."""
    return all(int(h) >= int(n) for h, n in zip(have, need, strict=True))


def estimate_cost(gas_price_wei: int, gas_limit: int, cpu_seconds: float, price_per_cpu_s: int) -> int:
    """Cost in TES wei, with gas priced 1 TES wei per wei (a node sets its own price for compute;
    a production node would convert ETH to TES with an oracle price — see docs/oracle.md)."""
    return gas_price_wei * gas_limit + int(cpu_seconds * price_per_cpu_s)


def decide(
    job: dict[str, Any],
    nodes: dict[int, dict[str, Any]],
    replicas: set[int],
    replica_operators: set[str],
    operator: str,
    free_workers: int,
    fee_bps: int,
    cost: int,
    min_margin: float,
) -> Decision:
    """`job` is the market's `job()` view as a dict; `nodes` maps our node ids to registry `node()`."""
    if job["status"] != OPEN:
        return Decision(False, None, f"job not open (status {job['status']})")
    if free_workers <= 0:
        return Decision(False, None, "no free worker")
    if operator.lower() in replica_operators:
        return Decision(False, None, "this operator already holds a replica of the job")
    net = job["payment"] * (10_000 - fee_bps) // 10_000 // max(job["k"], 1)
    if net < cost * (1 + min_margin):
        return Decision(False, None, f"pays {net} per replica, costs {cost}: below margin")
    reasons = []
    for node_id, node in sorted(nodes.items()):
        if node_id in replicas:
            reasons.append(f"node {node_id} already a replica")
            continue
        if node["status"] != 1:
            reasons.append(f"node {node_id} not active")
            continue
        if not meets(node["capabilities"], job["requirements"]):
            reasons.append(f"node {node_id} lacks capabilities {job['requirements']}")
            continue
        if node["stake"] - node["locked"] < job["collateral"]:
            reasons.append(f"node {node_id} has too little free stake")
            continue
        return Decision(True, node_id, "ok")
    return Decision(False, None, "; ".join(reasons) or "no node")
