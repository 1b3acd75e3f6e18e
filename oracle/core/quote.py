"""Quotes: a node's signed offer to run one k = 1 job, which the client turns into a job already
assigned to that node in one transaction (`JobMarket.createAndAssign`).

The EIP-712 statement signed here must match `JobMarket.QUOTE_TYPEHASH` and the market's domain
("TES JobMarket", "1", chain id, market address). It binds the whole request (by its hash, so price,
collateral, windows, requirements and bundle), the client, the client's quote nonce (which the market
advances on every createAndAssign: a quote is usable once), the node and an expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from oracle.core.prove import market_domain

# IJobMarket.JobRequest as abi.encode lays it out:
# (bundleHash, bundleUri, requirements, payment, collateral, replicas, 4 windows).
JOB_REQUEST_ABI = "(bytes32,string,(uint16,uint32,uint8,uint32,uint8),uint96,uint96,uint8,uint32,uint32,uint32,uint32)"
QUOTE_TYPES = {
    "Quote": [
        {"name": "request", "type": "bytes32"},
        {"name": "client", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "nodeId", "type": "uint256"},
        {"name": "expiry", "type": "uint256"},
    ]
}


def request_hash(request: tuple[Any, ...]) -> bytes:
    """keccak256(abi.encode(request)), as the market hashes a JobRequest for a quote."""
    return keccak(encode([JOB_REQUEST_ABI], [request]))


@dataclass(frozen=True)
class Quote:
    """IJobMarket.Quote plus what it was signed for (`as_tuple` is the calldata)."""

    node_id: int
    expiry: int
    signature: bytes
    client: str
    nonce: int

    def as_tuple(self) -> tuple[int, int, bytes]:
        return (self.node_id, self.expiry, self.signature)


def quote_message(
    chain_id: int,
    market: str,
    request: tuple[Any, ...],
    client: str,
    nonce: int,
    node_id: int,
    expiry: int,
):
    """The EIP-712 signable message of a quote."""
    return encode_typed_data(
        domain_data=market_domain(chain_id, market),
        message_types=QUOTE_TYPES,
        message_data={
            "request": request_hash(request),
            "client": client,
            "nonce": nonce,
            "nodeId": node_id,
            "expiry": expiry,
        },
    )


def sign_quote(
    private_key: bytes | str,
    chain_id: int,
    market: str,
    request: tuple[Any, ...],
    client: str,
    nonce: int,
    node_id: int,
    expiry: int,
) -> Quote:
    """The operator's quote for `request` by `client` (its current `quoteNonce`)."""
    message = quote_message(chain_id, market, request, client, nonce, node_id, expiry)
    signed = Account.sign_message(message, private_key)
    return Quote(node_id, expiry, bytes(signed.signature), client, nonce)
