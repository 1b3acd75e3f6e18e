"""Quotes and createAndAssign: a k = 1 job created already claimed by the node whose operator
signed a quote for it, in one transaction. Each test is what a client, a node or an attacker can
do with a quote: use it, replay it, use someone else's, change the request under it, use it late,
or have a key that does not operate the node sign it."""

import ape
import pytest
from eth_utils import event_abi_to_log_topic, keccak
from web3 import Web3
from web3._utils.events import get_event_data

from oracle.core.chain import load_abis
from oracle.core.permit import sign_permit
from oracle.core.protocol import Capabilities, Job, JobStatus, JobTerms, Seat, check_job_id
from oracle.core.prove import commitment_of
from oracle.core.quote import NO_PERMIT, quote_message, request_hash, sign_quote
from oracle.node import flow
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, WINDOWS
from tests.utils.market import RESULT, ZERO_ADDRESS, ReplicaState, Status, salt_of, terms_of


@pytest.fixture
def quote_for(chain, market):
    """quote_for(node, request, client, signer=None, nonce=None, expiry=None) -> Quote."""

    def _quote(node, request, client, signer=None, nonce=None, expiry=None):
        key = (signer or node.operator).private_key
        return sign_quote(
            key,
            chain.chain_id,
            market.address,
            request,
            client.address,
            market.quoteNonce(client) if nonce is None else nonce,
            node.id,
            chain.pending_timestamp + 600 if expiry is None else expiry,
        )

    return _quote


def _signable_hash(message) -> bytes:
    return keccak(b"\x19" + message.version + message.header + message.body)


def test_quote_digest__python_and_market_agree(chain, market, pool, client, job_request):
    request = job_request()
    message = quote_message(
        chain.chain_id, market.address, request, client.address, 7, pool[0].id, 99
    )
    assert market.quoteDigest(request, client, 7, pool[0].id, 99) == _signable_hash(message)
    # The request hash covers the whole request: another price is another quote.
    assert request_hash(job_request(payment=JOB_PAYMENT + 1)) != request_hash(request)


def test_create_and_assign__one_transaction_escrows_locks_and_runs(
    chain, market, registry, token, pool, client, job_request, quote_for
):
    n, request = pool[0], job_request()
    quote = quote_for(n, request, client)
    locked, escrow = registry.node(n.id).locked, token.balanceOf(market)
    tx = market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)
    job_id = tx.decode_logs(market.JobCreated)[0].jobId
    claimed = tx.decode_logs(market.JobClaimed)[0]
    assert (claimed.jobId, claimed.nodeId, claimed.operator) == (job_id, n.id, n.operator.address)
    running = tx.decode_logs(market.JobRunning)[0]
    job = market.jobOf(terms_of(market, job_id))
    assert job.status == Status.RUNNING and job.client == client.address
    assert job.deadline == running.deadline == tx.timestamp + WINDOWS["executionWindow"]
    seat = market.replica(job_id, 0)
    # One word: the node, not the key that signed the quote (that is JobClaimed's operator).
    assert (seat.nodeId, seat.state, seat.operator) == (n.id, ReplicaState.CLAIMED, ZERO_ADDRESS)
    assert registry.node(n.id).locked == locked + JOB_COLLATERAL
    assert token.balanceOf(market) == escrow + JOB_PAYMENT
    assert market.quoteNonce(client) == quote.nonce + 1
    # From here it is an ordinary claimed job: the node's own proof is accepted.
    commitment = commitment_of(job_id, n.id, RESULT, salt_of(n.id))
    market.submitProofs([([(job_id, n.id, commitment)], b"")], sender=n.operator)
    assert market.job(job_id).status == Status.ACCEPTED


def _market_events(market, tx) -> list[tuple[str, dict]]:
    """The receipt's market events as the node decodes them (web3, from the compiled ABI)."""
    abi = [e for e in load_abis({})["JobMarket"] if e["type"] == "event"]
    by_topic = {event_abi_to_log_topic(e): e for e in abi}
    out = []
    for log in tx.logs:
        if log["address"].lower() == market.address.lower():
            data = get_event_data(Web3().codec, by_topic[bytes(log["topics"][0])], log)
            out.append((data["event"], dict(data["args"])))
    return out


def test_job_created__carries_every_term__the_job_is_built_from_events_alone(
    market, pool, client, fund, token, job_request, quote_for
):
    """A reader following the events (the node's view) builds the same job and seats the market
    stores, for a job posted open and for one created on a quote, without reading them."""
    need = (2, 1024, 0, 0, 0)
    request = job_request(requirements=need, claimWindow=77, executionWindow=88, revealWindow=99)
    fund(client, JOB_PAYMENT * 2)
    token.approve(market, JOB_PAYMENT * 2, sender=client)
    tx = market.createJob(request, sender=client)
    (name, args), *rest = _market_events(market, tx)
    assert name == "JobCreated" and rest == []  # JobCreated says what was escrowed
    job = Job.created(args)
    assert job == Job.from_raw(market.jobOf(terms_of(market, args["jobId"])))
    assert job.requirements == Capabilities(*need) and job.executionWindow == 88

    n, request = pool[0], job_request(disputeWindow=55)
    tx = market.createAndAssign(
        request, quote_for(n, request, client).as_tuple(), NO_PERMIT, sender=client
    )
    (name, args), *rest = _market_events(market, tx)
    built, seats = flow.advance(Job.created(args), [], rest)
    job_id = args["jobId"]
    assert built == Job.from_raw(market.jobOf(terms_of(market, job_id)))
    assert built.status == JobStatus.RUNNING
    assert seats == [Seat.from_raw(market.replica(job_id, 0))]
    # A k = 3 job's seats come from a draw: not built from its creation.
    with pytest.raises(ValueError):
        Job.created({**args, "replicas": 3})


def test_create_and_assign__replayed_quote__reverts(market, pool, client, job_request, quote_for):
    n, request = pool[0], job_request()
    quote = quote_for(n, request, client)
    market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)
    # The nonce moved on: the same signature now recovers some other key, which operates nothing.
    with ape.reverts():
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__another_clients_quote__reverts(
    market, registry, pool, client, stranger, job_request, quote_for
):
    n, request = pool[0], job_request()
    quote = quote_for(n, request, client)
    locked = registry.node(n.id).locked
    with ape.reverts():
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=stranger)
    assert registry.node(n.id).locked == locked and market.quoteNonce(client) == quote.nonce


def test_create_and_assign__request_changed_after_signing__reverts(
    market, pool, client, job_request, quote_for
):
    n = pool[0]
    quote = quote_for(n, job_request(), client)
    cheaper = job_request(payment=JOB_PAYMENT - 1)
    with ape.reverts():
        market.createAndAssign(cheaper, quote.as_tuple(), NO_PERMIT, sender=client)
    more_collateral = job_request(collateral=JOB_COLLATERAL * 2)
    with ape.reverts():
        market.createAndAssign(more_collateral, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__after_expiry__reverts_quote_expired(
    chain, market, pool, client, job_request, quote_for
):
    n, request = pool[0], job_request()
    expiry = chain.pending_timestamp + 10
    quote = quote_for(n, request, client, expiry=expiry)
    chain.pending_timestamp = expiry + 1
    with ape.reverts(market.JobMarketQuoteExpired, nodeId=n.id, expiry=expiry):
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__at_expiry__is_accepted(
    chain, market, pool, client, job_request, quote_for
):
    n, request = pool[0], job_request()
    expiry = chain.pending_timestamp + 10
    quote = quote_for(n, request, client, expiry=expiry)
    chain.pending_timestamp = expiry
    market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__replicated_request__reverts_invalid_replicas(
    market, pool, client, job_request, quote_for
):
    request = job_request(replicas=3)
    quote = quote_for(pool[0], request, client)
    with ape.reverts(market.JobMarketInvalidReplicas, replicas=3):
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__signed_by_the_owner_not_the_operator__reverts_in_the_registry(
    market, registry, pool, client, job_request, quote_for
):
    n, request = pool[0], job_request()
    quote = quote_for(n, request, client, signer=n.owner)
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=n.id, operator=n.owner.address):
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__malformed_signature__reverts_invalid_signature(
    market, pool, client, job_request
):
    n = pool[0]
    with ape.reverts(market.JobMarketInvalidSignature):
        market.createAndAssign(job_request(), (n.id, 2**40, b"\x01" * 65), NO_PERMIT, sender=client)


def test_create_and_assign__node_without_free_stake__reverts_and_moves_nothing(
    market, registry, token, pool, client, job_request, quote_for
):
    n = pool[0]
    request = job_request(collateral=registry.freeStake(n.id) + 1)
    quote = quote_for(n, request, client)
    before = token.balanceOf(client)
    with ape.reverts(registry.NodeRegistryInsufficientFreeStake):
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)
    assert token.balanceOf(client) == before


def test_create_and_assign__deposit_pays_without_allowance(
    market, token, deployer, pool, job_request, quote_for, fund
):
    # `stranger` has a standing approval from the pool fixture: use a fresh account instead.
    ape_client = ape.accounts.test_accounts.generate_test_account()
    deployer.transfer(ape_client, 10**18)  # gas
    fund(ape_client, JOB_PAYMENT)
    token.approve(market, JOB_PAYMENT, sender=ape_client)
    market.deposit(JOB_PAYMENT, sender=ape_client)
    assert token.allowance(ape_client, market) == 0
    request = job_request()
    quote = quote_for(pool[0], request, ape_client)
    market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=ape_client)
    assert market.credited(ape_client) == 0


def test_create_and_assign__paused__reverts(market, deployer, pool, client, job_request, quote_for):
    request = job_request()
    quote = quote_for(pool[0], request, client)
    market.pause(sender=deployer)
    with ape.reverts():
        market.createAndAssign(request, quote.as_tuple(), NO_PERMIT, sender=client)


def test_create_and_assign__with_permit__needs_no_prior_approve(
    chain, market, token, keeper, fund, pool, job_request, quote_for
):
    fund(keeper, JOB_PAYMENT)
    assert token.allowance(keeper, market) == 0 and market.credited(keeper) == 0
    deadline = chain.pending_timestamp + 3_600
    p = sign_permit(keeper, token, spender=market.address, value=JOB_PAYMENT, deadline=deadline)
    request = job_request()
    quote = quote_for(pool[0], request, keeper)
    before = token.balanceOf(keeper)
    market.createAndAssign(request, quote.as_tuple(), (deadline, p.v, p.r, p.s), sender=keeper)
    assert token.balanceOf(keeper) == before - JOB_PAYMENT
    assert token.allowance(keeper, market) == 0


def test_job_id_is_the_hash_of_its_terms__identical_requests_get_two_ids__a_forged_event_is_refused(
    market, pool, client, fund, token, job_request, quote_for
):
    """The id commits to every term the event carries (and the client's job nonce): a reader
    checks the terms it rebuilt against the id, two identical requests still get two jobs, and
    terms changed in any field (a lying RPC's event) no longer hash to the id."""
    request = job_request(requirements=(2, 1024, 0, 0, 0), disputeWindow=55)
    fund(client, JOB_PAYMENT * 3)
    token.approve(market, JOB_PAYMENT * 3, sender=client)
    nonce = market.jobNonce(client)
    ids = []
    for tx in (
        market.createJob(request, sender=client),
        market.createJob(request, sender=client),
        market.createAndAssign(
            request, quote_for(pool[0], request, client).as_tuple(), NO_PERMIT, sender=client
        ),
    ):
        (name, args), *_ = _market_events(market, tx)
        terms = check_job_id(args)
        assert terms.nonce == nonce + len(ids) and terms.client == client.address
        assert market.jobIdOf(terms.as_tuple()) == terms.job_id == args["jobId"]
        ids.append(args["jobId"])
    assert len(set(ids)) == 3 and market.jobNonce(client) == nonce + 3
    assert all(i >= 2**64 for i in ids)  # 256-bit: no reader may keep them in 64-bit columns
    for field, value in [("payment", args["payment"] - 1), ("bundleHash", b"\x01" * 32),
                         ("client", pool[0].operator.address), ("disputeWindow", 56), ("nonce", 0),
                         ("requirements", (2, 1024, 0, 0, 1))]:  # fmt: skip
        with pytest.raises(ValueError, match="not the market's event"):
            check_job_id({**args, field: value})
    assert JobTerms.created(args).job_id == args["jobId"]


def test_job_nonces_are_per_client__two_clients_same_request_same_nonce__two_jobs(
    market, client, keeper, fund, token, job_request
):
    """Nonces are per client (one storage slot with its balance), so two clients' first jobs
    share a nonce: the client in the terms keeps their ids apart, in the same block too, and
    neither job can be settled, cancelled or claimed through the other's terms."""
    request = job_request()
    for who in (client, keeper):
        fund(who, JOB_PAYMENT)
        token.approve(market, JOB_PAYMENT, sender=who)
    nonces = (market.jobNonce(client), market.jobNonce(keeper))
    a = market.createJob(request, sender=client)
    b = market.createJob(request, sender=keeper)
    ta, tb = (
        JobTerms.created(tx.decode_logs(market.JobCreated)[0].event_arguments) for tx in (a, b)
    )
    assert (ta.nonce, tb.nonce) == nonces and ta.job_id != tb.job_id
    assert (market.jobNonce(client), market.jobNonce(keeper)) == (nonces[0] + 1, nonces[1] + 1)
    with ape.reverts(market.JobMarketNotClient):
        market.cancel(ta.as_tuple(), sender=keeper)  # the other client's job, by its own terms
    market.cancel(tb.as_tuple(), sender=keeper)
    assert market.job(ta.job_id).status == JobStatus.OPEN
