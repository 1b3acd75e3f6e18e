"""Job market test helpers: enum values, the contract's money arithmetic, salts, EIP-712 digests."""

from collections import Counter
from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from oracle.core.protocol import JobStatus, NodeStatus, Outcome, SeatState, SkipReason  # noqa: F401
from oracle.core.prove import fingerprint, proof_batch_message  # noqa: F401
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


def stored_commitment(job_id: int, node_id: int, result_hash, salt) -> bytes:
    """What an undisputed k = 1 job's one word keeps of its proof's commitment: the fingerprint
    (`job(id).commitment`)."""
    from oracle.core.prove import commitment_of

    return fingerprint(commitment_of(job_id, node_id, result_hash, salt))


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


def credits(tx, market) -> dict:
    """{account: total credited} by one transaction (`Credited`: clients, keepers, disputers)."""
    out: dict = {}
    for e in tx.decode_logs(market.Credited):
        out[e.account] = out.get(e.account, 0) + e.amount
    return out


def earnings(tx, market) -> dict:
    """{nodeId: total added to its ledger} by one transaction (`EarningsCredited`): what the
    market pays a node owner as the owner of that node."""
    out: dict = {}
    for e in tx.decode_logs(market.EarningsCredited):
        out[e.nodeId] = out.get(e.nodeId, 0) + e.amount
    return out


def pending_work(market) -> dict:
    """{nodeId: ledger(nodeId).work} of every node with work not yet pushed to Rewards."""
    out = {}
    for n in node_ids(market):
        work = market.ledger(n).work
        if work:
            out[n] = work
    return out


def work_pushed(tx, market) -> list:
    """[(nodeId, workEpoch, amount)] of the `WorkPushed` events of one transaction."""
    return [(e.nodeId, e.workEpoch, e.amount) for e in tx.decode_logs(market.WorkPushed)]


def _contracts(market):
    import ape

    registry = ape.project.NodeRegistry.at(market.registry())
    return (
        ape.project.TESToken.at(market.token()),
        registry,
        ape.project.NodeLicense.at(registry.licence()),
    )


def node_ids(market) -> range:
    """Every node id the market can have a ledger for: the licences minted so far."""
    _, _, licence = _contracts(market)
    return range(1, licence.totalMinted() + 1)


def job_ids(market) -> list[int]:
    """Every job the market created, oldest first: ids are hashes of the terms, so they are read
    from the JobCreated events (checked against each client's `jobNonce`)."""
    import ape

    from oracle.core.protocol import JobTerms

    logs = list(market.JobCreated.range(0, ape.chain.blocks.head.number + 1))
    ids = [int(log.jobId) for log in logs]
    per_client = Counter(str(log.client) for log in logs)
    assert all(market.jobNonce(c) == n for c, n in per_client.items()), "a JobCreated per job"
    for job_id, log in zip(ids, logs, strict=True):
        if job_id not in _TERMS:  # the terms too, for terms_of (escrow reads every job's)
            terms = JobTerms.created(log.event_arguments)
            assert terms.job_id == job_id
            _TERMS[job_id] = terms.as_tuple()
    return ids


_TERMS: dict[int, tuple] = {}


def terms_of(market, job_id) -> tuple:
    """The job's terms as its `JobCreated` event carried them, to pass back to the market's
    entry points (settlement v2: they take the terms and check them against the id). An id is
    the hash of its terms, so the cache is right across chains and snapshots; a miss reads every
    JobCreated log at once (one query, not one per job)."""
    job_id = int(job_id)
    if job_id not in _TERMS:
        job_ids(market)  # reads every JobCreated once and keeps each job's terms
        assert job_id in _TERMS, f"no JobCreated for job {job_id:#x}"
    return _TERMS[job_id]


def owed_earnings(market, account) -> int:
    """Σ ledger(n).earned over the nodes `account` owns now (earnings follow the licence)."""
    _, registry, _ = _contracts(market)
    address = getattr(account, "address", account)
    return sum(
        market.ledger(n).earned for n in node_ids(market) if registry.ownerOfNode(n) == address
    )


def earned(market, account) -> int:
    """TES the market owes `account` or has sent it: its credit, the earnings of the nodes it owns
    and its token balance. A node settles its own k = 1 jobs with settleAndWithdraw, which sends
    the earnings at once, and a keeper's settlement leaves them in the node's ledger, so neither
    the credit nor the balance alone would see every payment."""
    token, _, _ = _contracts(market)
    return market.credited(account) + owed_earnings(market, account) + token.balanceOf(account)


UNSETTLED = (
    JobStatus.OPEN,
    JobStatus.SEATING,
    JobStatus.RUNNING,
    JobStatus.REVEALING,
    JobStatus.ACCEPTED,
)
ZERO_ADDRESS = "0x" + "00" * 20


def _credited_accounts(market) -> set:
    """Every account the market ever credited or took a deposit from (from its logs)."""
    import ape

    credited = keccak(text="Credited(uint256,address,uint256)")
    deposited = keccak(text="Deposited(address,uint256)")
    logs = ape.chain.provider.web3.eth.get_logs(
        {
            "address": market.address,
            "fromBlock": 0,
            "toBlock": "latest",
            "topics": [[credited, deposited]],
        }
    )
    out = set()
    for log in logs:
        topic = log["topics"][2] if bytes(log["topics"][0]) == credited else log["topics"][1]
        out.add(to_checksum_address(bytes(topic)[12:]))
    return out


@dataclass(frozen=True)
class Escrow:
    """What the market's TES balance must cover (IJobMarket's escrow invariant)."""

    balance: int
    payments: int  # Σ payment of unsettled jobs
    bonds: int  # Σ dispute bonds held (unsettled disputed jobs)
    fees: int  # pendingFees
    credited: int  # Σ credited(account): refunds, bounties, bonds back, deposits
    earned: int  # Σ ledger(n).earned
    work: int  # Σ ledger(n).work

    @property
    def owed(self) -> int:
        return self.payments + self.bonds + self.fees + self.credited + self.earned + self.work


def escrow(market) -> Escrow:
    """Reads the market's balance and every part of what it owes, from the whole chain."""
    token, _, _ = _contracts(market)
    payments = bonds = 0
    for job_id in job_ids(market):
        # jobOf, not job(): a one-slot k = 1 job stores no payment, only the hash of its terms.
        j = market.jobOf(terms_of(market, job_id))
        if JobStatus(j.status) in UNSETTLED:
            payments += j.payment
            if j.disputer != ZERO_ADDRESS:
                bonds += j.collateral
    ledgers = [market.ledger(n) for n in node_ids(market)]
    return Escrow(
        balance=token.balanceOf(market),
        payments=payments,
        bonds=bonds,
        fees=market.pendingFees(),
        credited=sum(market.credited(a) for a in _credited_accounts(market)),
        earned=sum(lg.earned for lg in ledgers),
        work=sum(lg.work for lg in ledgers),
    )


def assert_escrow(market) -> Escrow:
    """The escrow invariant: token.balanceOf(market) == Σ payments of unsettled jobs + held dispute
    bonds + pendingFees + Σ credited + Σ over nodes (ledger.earned + ledger.work). Not a wei more
    (stuck) and not a wei less (paid twice)."""
    e = escrow(market)
    assert e.balance == e.owed, f"market holds {e.balance}, owes {e.owed}: {e}"
    return e


def forged_terms(market, job_id, **changes) -> tuple[tuple, int]:
    """(terms, id): a real job's terms with `changes` (payment=..., nonce=...), as an attacker
    would pass them back, and the id they hash to (computed here, not by the market). No job was
    created with them, so the market must answer `JobMarketUnknownJob(id)`."""
    from dataclasses import fields, replace

    from oracle.core.protocol import Capabilities, JobTerms

    names = [f.name for f in fields(JobTerms)]
    values = dict(zip(names, terms_of(market, job_id), strict=True))
    values["requirements"] = Capabilities(*values["requirements"])
    terms = replace(JobTerms(**values), **changes)
    assert terms.job_id != int(job_id), "the changes must change the terms"
    return terms.as_tuple(), terms.job_id
