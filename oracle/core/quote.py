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
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from oracle.core.prove import market_domain

# IJobMarket.JobRequest as abi.encode lays it out:
# (bundleHash, bundleUri, requirements, payment, collateral, replicas, 4 windows).
JOB_REQUEST_ABI = "(bytes32,string,(uint16,uint32,uint8,uint32,uint8),uint96,uint96,uint8,uint32,uint32,uint32,uint32)"
NO_PERMIT = (0, 0, b"\x00" * 32, b"\x00" * 32)  # IJobMarket.PaymentPermit with deadline 0: none
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


# ---------------------------------------------------------------- the wire (POST /quote)
# What a client sends a node's endpoint and what the node answers: one shape for both sides
# (oracle/node/quoting.py serves it, oracle/client/sdk.py asks). Amounts are integers of wei; JSON
# strings of digits are accepted too (browsers cannot hold uint96 in a number).
MAX_URI = 2_048
UINT32, UINT96, UINT256 = 2**32 - 1, 2**96 - 1, 2**256 - 1


class WireRequirements(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpuCores: int = PydanticField(ge=0, le=2**16 - 1)
    memoryMb: int = PydanticField(ge=0, le=UINT32)
    gpuCount: int = PydanticField(ge=0, le=2**8 - 1)
    gpuMemoryMb: int = PydanticField(ge=0, le=UINT32)
    gpuClass: int = PydanticField(ge=0, le=2**8 - 1)


class WireRequest(BaseModel):
    """A JobRequest on the wire: what the client will send to the market."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bundleHash: str = PydanticField(pattern=r"^0x[0-9a-fA-F]{64}$")
    bundleUri: str = PydanticField(min_length=1, max_length=MAX_URI)
    requirements: WireRequirements
    payment: int = PydanticField(ge=0, le=UINT96)
    collateral: int = PydanticField(ge=0, le=UINT96)
    replicas: int = PydanticField(ge=0, le=255)
    claimWindow: int = PydanticField(ge=0, le=UINT32)
    executionWindow: int = PydanticField(ge=0, le=UINT32)
    revealWindow: int = PydanticField(ge=0, le=UINT32)
    disputeWindow: int = PydanticField(ge=0, le=UINT32)

    @staticmethod
    def fields_of(request: tuple[Any, ...]) -> dict[str, Any]:
        """The wire fields of the JobRequest tuple the market takes."""
        bundle_hash, uri, req, payment, collateral, replicas, cw, ew, rw, dw = request
        names = WireRequirements.model_fields
        return dict(
            bundleHash="0x" + bytes(bundle_hash).hex(), bundleUri=uri,
            requirements=WireRequirements(**dict(zip(names, req, strict=True))),
            payment=payment, collateral=collateral, replicas=replicas, claimWindow=cw,
            executionWindow=ew, revealWindow=rw, disputeWindow=dw,
        )  # fmt: skip

    def request(self) -> tuple[Any, ...]:
        """The JobRequest tuple (what `request_hash` and the market hash)."""
        r = self.requirements
        return (
            bytes.fromhex(self.bundleHash[2:]), self.bundleUri,
            (r.cpuCores, r.memoryMb, r.gpuCount, r.gpuMemoryMb, r.gpuClass),
            self.payment, self.collateral, self.replicas,
            self.claimWindow, self.executionWindow, self.revealWindow, self.disputeWindow,
        )  # fmt: skip


class QuoteAsk(WireRequest):
    """POST /quote's body: the JobRequest the client will send, the client, its quote nonce."""

    client: str = PydanticField(pattern=r"^0x[0-9a-fA-F]{40}$")
    nonce: int = PydanticField(ge=0, le=UINT256)

    @classmethod
    def of(cls, request: tuple[Any, ...], client: str, nonce: int) -> QuoteAsk:
        """From the JobRequest tuple the market takes."""
        return cls(**WireRequest.fields_of(request), client=client, nonce=nonce)


class QuoteOffer(BaseModel):
    """POST /quote's answer when the node takes the job: the quote (`IJobMarket.Quote`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nodeId: int = PydanticField(ge=1, le=UINT256)
    expiry: int = PydanticField(ge=0, le=UINT256)
    signature: str = PydanticField(pattern=r"^0x[0-9a-fA-F]{130}$")
    requestHash: str = PydanticField(pattern=r"^0x[0-9a-fA-F]{64}$")

    @classmethod
    def of(cls, quote: Quote, request: tuple[Any, ...]) -> QuoteOffer:
        return cls(nodeId=quote.node_id, expiry=quote.expiry, signature="0x" + quote.signature.hex(),
                   requestHash="0x" + request_hash(request).hex())  # fmt: skip

    def quote(self, client: str, nonce: int) -> Quote:
        return Quote(self.nodeId, self.expiry, bytes.fromhex(self.signature[2:]), client, nonce)


# ---------------------------------------------------------------- the wire (POST /quotes)
# A burst of jobs (`Client.submit_many`) asks a node for many quotes in one request. The quote
# nonces are the node's to number: the requests it takes get `nonce`, `nonce + 1`, ... in the
# order given, so the quotes it signs can all be used one after the other whichever it refuses.
MAX_QUOTE_BATCH = 64


class QuoteBatchAsk(BaseModel):
    """POST /quotes's body: up to MAX_QUOTE_BATCH JobRequests of one client, and the quote nonce
    the first one the node takes is to use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = PydanticField(pattern=r"^0x[0-9a-fA-F]{40}$")
    nonce: int = PydanticField(ge=0, le=UINT256)
    requests: list[WireRequest] = PydanticField(min_length=1, max_length=MAX_QUOTE_BATCH)

    @classmethod
    def of(cls, requests: list[tuple[Any, ...]], client: str, nonce: int) -> QuoteBatchAsk:
        return cls(client=client, nonce=nonce,
                   requests=[WireRequest(**WireRequest.fields_of(r)) for r in requests])  # fmt: skip


class BatchItem(BaseModel):
    """One request's answer in a batch: the quote and the nonce it was signed for, or why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer: QuoteOffer | None = None
    nonce: int | None = PydanticField(None, ge=0, le=UINT256)
    error: str | None = PydanticField(None, max_length=512)


class QuoteBatchAnswer(BaseModel):
    """POST /quotes's answer: one BatchItem per request, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[BatchItem] = PydanticField(max_length=MAX_QUOTE_BATCH)
