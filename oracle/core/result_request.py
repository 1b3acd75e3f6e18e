"""The signed request a job's client sends a node for its result (EIP-712), shared by the
client, which signs it (oracle.client), and the node's results endpoint, which checks it
(oracle.node.serve). Bound to one node, one job, a short expiry and a single-use nonce, so a request
seen on the wire can be neither replayed nor sent to another node."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

MAX_REQUEST_TTL_S = 300  # a signed request is good for at most this long

RESULT_REQUEST_TYPES = {
    "ResultRequest": [
        {"name": "jobId", "type": "uint256"},
        {"name": "nodeId", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ]
}


@dataclass(frozen=True)
class ResultRequest:
    job_id: int
    node_id: int
    expiry: int
    nonce: bytes

    def typed_data(self, chain_id: int, market: str) -> dict[str, Any]:
        return {
            "domain": {
                "name": "TES Results",
                "version": "1",
                "chainId": chain_id,
                "verifyingContract": market,
            },
            "types": RESULT_REQUEST_TYPES,
            "primaryType": "ResultRequest",
            "message": {
                "jobId": self.job_id,
                "nodeId": self.node_id,
                "expiry": self.expiry,
                "nonce": self.nonce,
            },
        }

    def headers(self, signature: str) -> dict[str, str]:
        return {"X-TES-Node": str(self.node_id), "X-TES-Expiry": str(self.expiry),
                "X-TES-Nonce": "0x" + self.nonce.hex(), "X-TES-Signature": signature}  # fmt: skip


def sign_result_request(private_key: Any, job_id: int, node_id: int, chain_id: int, market: str,
                        ttl_s: int = 120) -> dict[str, str]:  # fmt: skip
    """The headers of a fresh signed request for `job_id`'s result from node `node_id`."""
    req = ResultRequest(job_id, node_id, int(time.time()) + ttl_s, secrets.token_bytes(32))
    signed = Account.sign_message(
        encode_typed_data(full_message=req.typed_data(chain_id, market)), private_key
    )
    return req.headers("0x" + bytes(signed.signature).hex())
