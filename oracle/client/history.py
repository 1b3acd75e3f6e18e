"""A client's jobs rebuilt from the chain alone (`tes-client jobs`, `Client.my_jobs`): nothing of
it is kept on the client's machine, so the list is the same after a reinstall or on another
machine (docs/protocol.md, "What a client must keep")."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from oracle.core.chain import Chain
from oracle.core.protocol import Job, JobId, JobStatus, JobTerms, job_hex, verified_terms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientJob:
    """One of a client's jobs: its terms from its `JobCreated` event (the market stores no bundle
    hash or URI), its state from `job()`, and the nodes seated in it from `JobClaimed`
    (`assigned`: seated in the transaction that created it, on a quote)."""

    job_id: int
    status: JobStatus
    k: int
    payment: int
    collateral: int
    bundle_hash: bytes
    bundle_uri: str
    created_block: int
    created_tx: str
    nodes: tuple[int, ...]
    assigned: bool
    terms: JobTerms  # from the event, checked against the id: all a client needs to keep

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": job_hex(self.job_id), "status": self.status.label, "k": self.k,
            "payment": str(self.payment), "collateral": str(self.collateral),
            "bundle_hash": "0x" + self.bundle_hash.hex(), "bundle_uri": self.bundle_uri,
            "created_block": self.created_block, "created_tx": self.created_tx,
            "nodes": list(self.nodes), "assigned": self.assigned, "terms": self.terms.to_json(),
        }  # fmt: skip


def jobs_of(chain: Chain, account: str) -> list[ClientJob]:
    """Every job `account` created on the market: one `eth_getLogs` for its `JobCreated` events
    (the client is an indexed topic), one for the seats taken in them (`JobClaimed`; one taken in
    the creating transaction marks a quoted job), and one `job()` read each for the state."""
    market, start = chain.market, chain.deployment_block
    who = Web3.to_checksum_address(account)
    created = market.events.JobCreated.get_logs(from_block=start, argument_filters={"client": who})
    by_id = {t.job_id: t for t in map(terms_of, (e["args"] for e in created)) if t is not None}
    created = [e for e in created if int(e["args"]["jobId"]) in by_id]
    if not created:
        return []
    ids = [int(e["args"]["jobId"]) for e in created]
    claimed = market.events.JobClaimed.get_logs(from_block=start, argument_filters={"jobId": ids})
    tx_of = {int(e["args"]["jobId"]): bytes(e["transactionHash"]) for e in created}
    nodes: dict[int, list[int]] = {}
    assigned: set[int] = set()
    for e in sorted(claimed, key=lambda e: (e["blockNumber"], e["logIndex"])):
        job_id = int(e["args"]["jobId"])
        nodes.setdefault(job_id, []).append(int(e["args"]["nodeId"]))
        if bytes(e["transactionHash"]) == tx_of.get(job_id):
            assigned.add(job_id)
    out = []
    for e in sorted(created, key=lambda e: (e["blockNumber"], e["logIndex"])):
        a, job_id = e["args"], JobId(e["args"]["jobId"])
        job = Job.from_raw(market.functions.job(job_id).call())
        out.append(ClientJob(
            job_id, job.status, int(a["replicas"]), int(a["payment"]), int(a["collateral"]),
            bytes(a["bundleHash"]), str(a["bundleUri"]), int(e["blockNumber"]),
            "0x" + tx_of[job_id].hex(), tuple(nodes.get(job_id, ())), job_id in assigned,
            by_id[job_id],
        ))  # fmt: skip
    return out


def terms_of(args: Any) -> JobTerms | None:
    """The terms of a `JobCreated`, if they hash to its id: only then is it the market's event;
    another (a lying RPC endpoint) is left out, with the reason."""
    return verified_terms(args, lambda why: log.warning("left out: %s", why))
