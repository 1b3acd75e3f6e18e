"""Shared fixtures: role accounts, a fully wired deployment, and factories.

Roles are named accounts rather than `accounts[i]` so a test says who acts. The deployment is
session-scoped; ape's default isolation reverts each test's state changes.
"""

import ape_ethereum.provider
import pytest

from oracle.localnet.deployment import deploy_all
from tests.utils.constants import (
    DEFAULT_CAPS,
    JOB_COLLATERAL,
    JOB_PAYMENT,
    MIN_STAKE,
    NO_REQUIREMENTS,
    TIER_PRICE,
    WINDOWS,
)


@pytest.fixture(scope="session", autouse=True)
def _no_debug_log_replay():
    """ape re-runs every transaction sent to a contract with a call trace, only to print
    console.log lines (none of our contracts log). That replay is ~30% of each transaction's
    cost on the in-process EVM, and the suite sends thousands of transactions."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ape_ethereum.provider, "_post_send_transaction", lambda tx, receipt: None)
        yield


@pytest.fixture(scope="session", autouse=True)
def _deployment(deployment, operators):
    """Deploy and wire everything before the first test: ape snapshots each scope when it is
    entered, and a session fixture first created inside a test's snapshot would leak into (or
    be reverted under) later tests ("Invalid isolation")."""


@pytest.fixture(scope="session")
def deployer(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def client(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def node_owner(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def operator(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def node_owners(accounts):
    """Owners of replica nodes for k >= 2 jobs (node_owner first)."""
    return [accounts[3], accounts[7], accounts[8], accounts[9]]


@pytest.fixture(scope="session")
def operators(accounts, node_owners):
    """A fresh operator key per replica owner (operator first)."""
    ops = [accounts[4]]
    for _ in node_owners[1:]:
        op = accounts.generate_test_account()
        accounts[0].transfer(op, 10**19)  # gas money: operators send their own transactions
        ops.append(op)
    return ops


@pytest.fixture(scope="session")
def deployment(project, deployer, treasury):
    """The five contracts, deployed and wired exactly as `ape run deploy` does."""
    return deploy_all(project, deployer, treasury)


@pytest.fixture(scope="session")
def token(deployment):
    return deployment.token


@pytest.fixture(scope="session")
def licence(deployment):
    return deployment.licence


@pytest.fixture(scope="session")
def registry(deployment):
    return deployment.registry


@pytest.fixture(scope="session")
def rewards(deployment):
    return deployment.rewards


@pytest.fixture(scope="session")
def market(deployment):
    return deployment.market


# ---------------------------------------------------------------------- factories
@pytest.fixture(scope="session")
def fund(token, treasury):
    """fund(account, amount): give `account` TES from the treasury's genesis allocation."""

    def _fund(account, amount):
        token.transfer(account, amount, sender=treasury)

    return _fund


@pytest.fixture(scope="session")
def setup_node(licence, registry, token, fund):
    """setup_node(owner, operator, caps=DEFAULT_CAPS, stake=5*MIN_STAKE) -> nodeId.

    Buys a licence, binds the operator (the owner proposes, the operator accepts), declares capabilities, stakes and activates."""

    def _setup(owner, operator, caps=DEFAULT_CAPS, stake=5 * MIN_STAKE, activate=True):
        tx = licence.buy(0, 1, value=TIER_PRICE, sender=owner)
        node_id = tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId
        registry.bindOperator(node_id, operator, sender=owner)
        registry.acceptOperator(node_id, sender=operator)
        registry.declareCapabilities(node_id, caps, sender=owner)
        if stake:
            fund(owner, stake)
            token.approve(registry, stake, sender=owner)
            registry.stake(node_id, stake, sender=owner)
        if activate:
            registry.activate(node_id, sender=owner)
        return node_id

    return _setup


@pytest.fixture(scope="session")
def job_request():
    """job_request(**overrides) -> JobRequest tuple for createJob."""

    def _request(
        bundle_hash=b"\x11" * 32,
        uri="file:///bundles/job.tar",
        requirements=NO_REQUIREMENTS,
        payment=JOB_PAYMENT,
        collateral=JOB_COLLATERAL,
        replicas=1,
        **windows,
    ):
        w = {**WINDOWS, **windows}
        return (
            bundle_hash,
            uri,
            requirements,
            payment,
            collateral,
            replicas,
            w["claimWindow"],
            w["executionWindow"],
            w["revealWindow"],
            w["disputeWindow"],
        )

    return _request


@pytest.fixture(scope="session")
def create_job(market, token, client, fund, job_request):
    """create_job(sender=client, **request overrides) -> jobId (client funded and approved)."""

    def _create(sender=None, **kw):
        sender = sender or client
        req = job_request(**kw)
        fund(sender, req[3])
        token.approve(market, req[3], sender=sender)
        tx = market.createJob(req, sender=sender)
        return tx.decode_logs(market.JobCreated)[0].jobId

    return _create


@pytest.fixture(scope="session")
def sign_proof(market, chain):
    """sign_proof(operator, job_id, node_id, commitment) -> a ProofBatch of that one completion,
    signed by `operator`, for submitProofs."""
    from oracle.core.prove import sign_proof_batch

    def _sign(operator, job_id, node_id, commitment, chain_id=None, verifying_contract=None):
        items = [(job_id, node_id, commitment)]
        sig = sign_proof_batch(
            operator.private_key,
            chain_id or chain.chain_id,
            verifying_contract or market.address,
            items,
        )
        return (items, sig)

    return _sign
