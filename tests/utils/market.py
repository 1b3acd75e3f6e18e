"""Job market test helpers: enum values, the contract's money arithmetic, salts, EIP-712 digests."""

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak

from oracle.core.protocol import JobStatus, NodeStatus, Outcome, SeatState, SkipReason  # noqa: F401
from oracle.core.prove import proof_batch_message
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS

BPS = 10_000


# The chain's enums live in oracle/core/protocol.py; these names are what the tests were written with.
Status = JobStatus
ReplicaState = SeatState


@dataclass(frozen=True)
class Node:
    """A registered node and the two accounts behind it."""

    id: int
    owner: object
    operator: object


RESULT = b"\xaa" * 32
OTHER_RESULT = b"\xbb" * 32
THIRD_RESULT = b"\xcc" * 32


SEAT_PENALTY_BPS = 1_000
DISPUTER_SHARE_BPS = 5_000
DISPUTE_FEE_BPS = 1_000


def fee(payment: int = JOB_PAYMENT) -> int:
    return payment * MARKET_PARAMETERS["protocolFeeBps"] // BPS


def bounty(amount: int = JOB_PAYMENT) -> int:
    """Keeper bounty on `amount` (a payment, a bond or seized collateral)."""
    return amount * MARKET_PARAMETERS["keeperBountyBps"] // BPS


def share(amount: int, votes: int) -> tuple[int, int]:
    """(each, dust) of `amount` split between `votes` agreeing seats, as `_payVoters` rounds."""
    each = amount // votes
    return each, amount - each * votes


FEE = fee()
BOUNTY = bounty()
NET = JOB_PAYMENT - FEE
BOND = JOB_COLLATERAL
SEAT_PENALTY = JOB_COLLATERAL * SEAT_PENALTY_BPS // BPS


def salt_of(node_id: int) -> bytes:
    """A replica's reveal salt (secret in real life; deterministic here)."""
    return keccak(b"tes-test-salt" + node_id.to_bytes(32, "big"))


def name32(name: str) -> bytes:
    """A Solidity bytes32 string literal, as the contract's error arguments carry it."""
    return name.encode().ljust(32, b"\x00")


def completion_digest(chain_id: int, market: str, items) -> bytes:
    """The EIP-712 digest oracle/core/prove.py signs for a batch of completions [(job, node, commitment)]."""
    msg = proof_batch_message(chain_id, market, items)
    return keccak(b"\x19" + msg.version + msg.header + msg.body)


def domain_separator(chain_id: int, market: str) -> bytes:
    return proof_batch_message(chain_id, market, []).header


def recover(digest: bytes, signature: bytes) -> str:
    """The address a signature recovers to for `digest` (what the contract's tryRecover sees)."""
    return Account._recover_hash(digest, signature=signature)


def replica_of(market, job_id: int, node_id: int):
    """(Replica, index) of `node_id`'s live (not dropped) seat in `job_id`, scanning `replica(i)`."""
    for index in range(market.job(job_id).replicaCount):
        rep = market.replica(job_id, index)
        if rep.nodeId == node_id and rep.state != SeatState.DROPPED:
            return rep, index
    raise LookupError(f"node {node_id} has no seat in job {job_id}")


def earned(market, account) -> int:
    """TES the market owes `account` or has sent it: its credit plus its token balance. A node
    settles its own k = 1 jobs with settleAndWithdraw, which sends the owner's credit at once, so
    the credit alone would miss that payment."""
    import ape

    return market.credited(account) + ape.project.TESToken.at(market.token()).balanceOf(account)
