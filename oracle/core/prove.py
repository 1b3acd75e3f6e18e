"""Prove stage: turn a result into what the job market accepts.

The EIP-712 statement signed here must match `JobMarket.PROOF_BATCH_TYPEHASH` (a batch of
`Completion`s under one signature) and its domain ("TES JobMarket", "1", chain id, market address):
a proof signed for another job, chain or deployment is rejected on chain.
"""

from __future__ import annotations

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

DOMAIN_NAME = "TES JobMarket"
DOMAIN_VERSION = "1"
PROOF_BATCH_TYPES = {
    "ProofBatch": [{"name": "items", "type": "Completion[]"}],
    "Completion": [
        {"name": "jobId", "type": "uint256"},
        {"name": "nodeId", "type": "uint256"},
        {"name": "commitment", "type": "bytes32"},
    ],
}


def _b32(value: bytes | str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def fingerprint(commitment: bytes) -> bytes:
    """What the market keeps of a one-slot k = 1 job's commitment (contracts/types/JobSlot.sol):
    its low 160 bits, as the bytes32 `job().commitment` and `JobPaid` carry them."""
    return bytes(12) + bytes(commitment)[12:]


def opens(stored: bytes, opened: bytes) -> bool:
    """Whether the commitment `opened` (recomputed from a result and its salt) is the one the
    chain stored: in full, or as the fingerprint a one-slot job keeps."""
    return bytes(stored) in (bytes(opened), fingerprint(opened))


def commitment_of(job_id: int, node_id: int, result_hash: bytes | str, salt: bytes | str) -> bytes:
    """keccak256(abi.encode(jobId, nodeId, resultHash, salt)), as `JobMarket.commitmentOf`."""
    return keccak(
        encode(
            ["uint256", "uint256", "bytes32", "bytes32"],
            [job_id, node_id, _b32(result_hash), _b32(salt)],
        )
    )


def market_domain(chain_id: int, market: str) -> dict[str, object]:
    """The market's EIP-712 domain, shared by proof batches and quotes."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": market,
    }


Completion = tuple[int, int, bytes]  # (jobId, nodeId, commitment): IJobMarket.Completion


def proof_batch_message(chain_id: int, market: str, items: list[Completion]):
    """The EIP-712 signable message for a batch of completion proofs."""
    return encode_typed_data(
        domain_data=market_domain(chain_id, market),
        message_types=PROOF_BATCH_TYPES,
        message_data={
            "items": [{"jobId": j, "nodeId": n, "commitment": _b32(c)} for j, n, c in items]
        },
    )


def sign_proof_batch(
    private_key: bytes | str, chain_id: int, market: str, items: list[Completion]
) -> bytes:
    """65-byte r||s||v signature over a batch of completions: one per batch, whatever its size."""
    signed = Account.sign_message(proof_batch_message(chain_id, market, items), private_key)
    return bytes(signed.signature)
