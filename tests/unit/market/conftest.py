import pytest

from oracle.core.prove import commitment_of
from tests.utils.constants import DEFAULT_CAPS, E18, MIN_STAKE, TIER_PRICE
from tests.utils.market import JobStatus, Node, salt_of, terms_of


@pytest.fixture
def node(setup_node, node_owner, operator):
    """An active node with default capabilities, run by `operator`."""
    return setup_node(node_owner, operator)


@pytest.fixture
def replica_nodes(setup_node, node_owners, operators):
    """Four active nodes with distinct owners and operators."""
    return [setup_node(o, op) for o, op in zip(node_owners, operators, strict=True)]


# ---------------------------------------------------------------------- speed
# ---------------------------------------------------------------------- shared nodes
MAX_UINT = 2**256 - 1
POOL_STAKE = 5 * MIN_STAKE


@pytest.fixture(scope="package")
def pool(
    # Every session fixture the market tests use is requested here, so that all of them exist
    # before ape snapshots this package; one first used later would force a costly rebase.
    chain, project, deployer, treasury, client, node_owner, operator, keeper, stranger,
    node_owners, operators, token, licence, registry, rewards, market, fund, setup_node,
    job_request, create_job, sign_proof, open_job, claim_all, commit, reveal, draw_seats,
    accept_all, seated_job,
):  # fmt: skip
    """Four active nodes with distinct owners and operators, plus a fifth ("twin") that shares
    the first one's owner and operator. Built once for the package; ape reverts every test (and
    every module) to this snapshot. The generated operator keys get ETH for gas; the client and
    the verifier (`stranger`) get TES and a standing approval, so a job or a bond costs one call.
    Stake is topped up by the treasury (anyone may stake for a node) to save transactions."""
    token.approve(registry, MAX_UINT, sender=treasury)
    for op in operators[1:]:
        if op.balance < E18:  # gas money, unless the shared fixture already gave some
            deployer.transfer(op, E18)
    owners = [*node_owners, node_owners[0]]
    keys = [*operators, operators[0]]
    nodes = []
    for owner, key in zip(owners, keys, strict=True):
        tx = licence.buy(0, 1, value=TIER_PRICE, sender=owner)
        node_id = tx.decode_logs(licence.LicencesPurchased)[0].firstTokenId
        registry.bindOperator(node_id, key, sender=owner)
        if registry.operatorOf(node_id) != key.address:
            registry.acceptOperator(node_id, sender=key)
        registry.declareCapabilities(node_id, DEFAULT_CAPS, sender=owner)
        registry.stake(node_id, POOL_STAKE, sender=treasury)
        registry.activate(node_id, sender=owner)
        nodes.append(Node(node_id, owner, key))
    for account in (client, stranger):
        fund(account, 10_000 * E18)
        token.approve(market, MAX_UINT, sender=account)
    return nodes


@pytest.fixture(scope="session")
def open_job(market, client, job_request):
    """open_job(sender=client, **request overrides) -> jobId; the sender must have approved."""

    def _open(sender=None, **kw):
        tx = market.createJob(job_request(**kw), sender=sender or client)
        return tx.decode_logs(market.JobCreated)[0].jobId

    return _open


@pytest.fixture(scope="session")
def draw_seats(market, chain, keeper):
    """draw_seats(job_id, nodes, sender=keeper) -> the drawn seats' Nodes, in draw order.

    Mines past the anchor block first (the draw needs its hash). `nodes` maps ids back to the
    Node records (owner, operator) the test knows."""

    def _draw(job_id, nodes, sender=None):
        by_id = {n.id: n for n in nodes}
        drawn = []
        # A seat the first draw could not fill (every candidate tried was excluded) is re-anchored
        # by the contract; keep drawing until the round is full or nothing is left to draw.
        while True:
            job = market.job(job_id)
            if job.seated >= job.k or job.drawBlock == 0:
                return drawn
            while chain.blocks.head.number <= job.drawBlock:
                chain.mine()
            tx = market.draw(job_id, sender=sender or keeper)
            drawn += [by_id[log.nodeId] for log in tx.decode_logs(market.SeatDrawn)]

    return _draw


@pytest.fixture(scope="session")
def accept_all(market):
    """accept_all(job_id, nodes) -> the last acceptance's receipt."""

    def _accept(job_id, nodes):
        tx = None
        for n in nodes:
            tx = market.acceptSeat(job_id, n.id, sender=n.operator)
        return tx

    return _accept


@pytest.fixture(scope="session")
def seated_job(open_job, draw_seats, accept_all):
    """seated_job(nodes, replicas=3, accept=True, **request) -> (jobId, seated Nodes): a k >= 3 job
    whose seats were drawn from the pool (and accepted, so it is Running)."""

    def _seated(nodes, replicas=3, accept=True, **kw):
        job_id = open_job(replicas=replicas, **kw)
        seats = draw_seats(job_id, nodes)
        if accept:
            accept_all(job_id, seats)
        return job_id, seats

    return _seated


@pytest.fixture(scope="session")
def claim_all(market):
    """claim_all(job_id, nodes) -> the last claim's receipt."""

    def _claim(job_id, nodes):
        tx = None
        for n in nodes:
            tx = market.claim(terms_of(market, job_id), n.id, sender=n.operator)
        return tx

    return _claim


@pytest.fixture(scope="session")
def commit(market, sign_proof):
    """commit(job_id, nodes, results, sender) -> receipt: one batch of commit-reveal proofs."""

    def _commit(job_id, nodes, results, sender):
        proofs = [
            sign_proof(n.operator, job_id, n.id, commitment_of(job_id, n.id, r, salt_of(n.id)))
            for n, r in zip(nodes, results, strict=True)
        ]
        return market.submitProofs(proofs, sender=sender)

    return _commit


@pytest.fixture(scope="session")
def reveal(market):
    """reveal(job_id, nodes, results, sender) -> receipt: one batch of reveals."""

    def _reveal(job_id, nodes, results, sender):
        reveals = [(job_id, n.id, r, salt_of(n.id)) for n, r in zip(nodes, results, strict=True)]
        return market.reveal(reveals, sender=sender)

    return _reveal


@pytest.fixture(scope="session")
def lapse_escalation(market, chain, keeper):
    """lapse_escalation(job_id, round_, seats) -> the expire receipt. Checks the job was escalated to
    `round_` with `seats` seats to draw, then lets its claim window pass with nobody seated (the
    pool is too small for a fresh round), so the verdict before it stands."""

    def _lapse(job_id, round_, seats):
        job = market.job(job_id)
        assert (job.status, job.round, job.k, job.seated) == (JobStatus.SEATING, round_, seats, 0)
        chain.pending_timestamp = job.deadline + 1
        return market.expire(terms_of(market, job_id), sender=keeper)

    return _lapse
