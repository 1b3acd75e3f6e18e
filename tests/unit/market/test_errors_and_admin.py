"""Every custom error of JobMarket not raised in the lifecycle and dispute files, the request and
parameter bounds (at the bound accepted, one past it refused), governance (parameters, pause,
ownership), createJobWithPermit, and the views the oracle relies on. A claim or accept by the
wrong key reverts in the registry with NodeRegistryNotOperator."""

import ape
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from oracle.core.prove import commitment_of
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT, MARKET_PARAMETERS
from tests.utils.market import (
    BOUNTY,
    DISPUTE_FEE_BPS,
    DISPUTER_SHARE_BPS,
    FEE,
    NET,
    RESULT,
    SEAT_PENALTY_BPS,
    ReplicaState,
    Status,
    completion_digest,
    domain_separator,
    forged_terms,
    job_ids,
    name32,
    replica_of,
    salt_of,
    share,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
MAX_WINDOW = 30 * 86_400
PARAMS = tuple(MARKET_PARAMETERS.values())
ZERO = b"\x00" * 32


def _params(**overrides):
    return tuple({**MARKET_PARAMETERS, **overrides}.values())


def _commitment(job_id, node, result=RESULT):
    return commitment_of(job_id, node.id, result, salt_of(node.id))


def _own_proof(job_id, node):
    return ([(job_id, node.id, _commitment(job_id, node))], b"")


def _mine_past_anchor(chain, market, job_id):
    while chain.blocks.head.number <= market.job(job_id).drawBlock:
        chain.mine()


# ---------------------------------------------------------------------- unknown job, withdraw
def test_every_job_call__unknown_job__reverts_unknown_job(market, pool, stranger, open_job):
    # Terms the market never created (a real job's, with another nonce) name no job, and an id
    # names none unless a job hashed to it: both revert with the id the call named.
    n = pool[0]
    terms, job_id = forged_terms(market, open_job(), nonce=2**64 - 1)
    assert market.jobIdOf(terms) == job_id
    calls = {
        "cancel": lambda: market.cancel(terms, sender=stranger),
        "dispute": lambda: market.dispute(terms, sender=stranger),
        "claim": lambda: market.claim(terms, n.id, sender=n.operator),
        "acceptSeat": lambda: market.acceptSeat(job_id, n.id, sender=n.operator),
        "draw": lambda: market.draw(job_id, sender=stranger),
        "redraw": lambda: market.redraw(job_id, sender=stranger),
        "finalize": lambda: market.finalize(terms, sender=stranger),
        "expire": lambda: market.expire(terms, sender=stranger),
        "settleAndWithdraw": lambda: market.settleAndWithdraw([terms], sender=n.operator),
        "jobOf": lambda: market.jobOf(terms),
        "submitProofs": lambda: market.submitProofs([_own_proof(job_id, n)], sender=n.operator),
        "reveal": lambda: market.reveal([(job_id, n.id, RESULT, salt_of(n.id))], sender=stranger),
    }
    for name, call in calls.items():
        with ape.reverts(market.JobMarketUnknownJob, jobId=job_id):
            call()
        assert name  # (the loop names the call in a failure's traceback)


def test_rounds_module__called_directly__reverts_for_every_entry(
    project, market, pool, stranger, open_job
):
    # The module only ever runs as the market's code; on its own storage there is no job to move,
    # and a direct call must not reach the token or the registry in the market's name.
    module = project.JobMarketRounds.at(market.rounds())
    assert market.rounds() != market.address
    job_id = open_job(replicas=3)
    n = pool[0]
    calls = {
        "dispute": lambda: module.dispute(terms_of(market, job_id), sender=stranger),
        "draw": lambda: module.draw(job_id, sender=stranger),
        "redraw": lambda: module.redraw(job_id, sender=stranger),
        "expire": lambda: module.expire(terms_of(market, job_id), sender=stranger),
        "reveal": lambda: module.reveal([(job_id, n.id, RESULT, salt_of(n.id))], sender=stranger),
    }
    for name, call in calls.items():
        with ape.reverts(module.JobMarketRoundsNotDelegated):
            call()
        assert name


def test_withdraw__nothing_credited__reverts(market, stranger):
    assert market.credited(stranger) == 0
    with ape.reverts(market.JobMarketNothingToWithdraw, account=stranger):
        market.withdraw(sender=stranger)


def test_flush_fees__nothing_pending__is_a_no_op(market, token, rewards, keeper):
    before = token.balanceOf(rewards)
    tx = market.flushFees(sender=keeper)
    assert tx.decode_logs(market.FeesFlushed) == []
    assert token.balanceOf(rewards) == before


# ---------------------------------------------------------------------- seats and proofs
def test_submit_proof__node_without_a_seat__reverts_not_replica(market, pool, stranger, open_job):
    job_id = open_job()
    n = pool[1]
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=n.id):
        market.submitProofs([_own_proof(job_id, n)], sender=n.operator)  # Open: no seat at all
    market.claim(terms_of(market, job_id), pool[0].id, sender=pool[0].operator)
    with ape.reverts(market.JobMarketNotReplica, jobId=job_id, nodeId=n.id):
        market.submitProofs([_own_proof(job_id, n)], sender=n.operator)


def test_reveal__not_revealing_or_not_a_seat__reverts(
    chain, market, pool, keeper, open_job, seated_job, commit
):
    job_id = open_job()
    market.claim(terms_of(market, job_id), pool[0].id, sender=pool[0].operator)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.RUNNING):
        market.reveal([(job_id, pool[0].id, RESULT, salt_of(pool[0].id))], sender=keeper)
    k3, seats = seated_job(pool)
    commit(k3, seats, [RESULT] * 3, sender=keeper)
    outsider = next(n for n in pool if n not in seats)
    with ape.reverts(market.JobMarketNotReplica, jobId=k3, nodeId=outsider.id):
        market.reveal([(k3, outsider.id, RESULT, salt_of(outsider.id))], sender=keeper)


def test_claim__drawn_job__reverts_seats_are_drawn(market, pool, open_job):
    job_id = open_job(replicas=3)
    with ape.reverts(market.JobMarketSeatsAreDrawn, jobId=job_id):
        market.claim(terms_of(market, job_id), pool[0].id, sender=pool[0].operator)


def test_accept_seat__wrong_status_wrong_state_wrong_key__revert(
    market, registry, pool, open_job, draw_seats
):
    k1 = open_job()
    with ape.reverts(market.JobMarketWrongStatus, jobId=k1, status=Status.OPEN):
        market.acceptSeat(k1, pool[0].id, sender=pool[0].operator)
    job_id = open_job(replicas=3)
    seats = draw_seats(job_id, pool)
    first, second = seats[0], seats[1]
    market.acceptSeat(job_id, first.id, sender=first.operator)
    with ape.reverts(
        market.JobMarketWrongSeatState, jobId=job_id, nodeId=first.id, state=ReplicaState.CLAIMED
    ):
        market.acceptSeat(job_id, first.id, sender=first.operator)
    with ape.reverts(registry.NodeRegistryNotOperator, nodeId=second.id, caller=first.operator):
        market.acceptSeat(job_id, second.id, sender=first.operator)


def test_draw_and_redraw__nothing_to_do__revert(chain, market, pool, keeper, open_job, draw_seats):
    k1 = open_job()
    with ape.reverts(market.JobMarketWrongStatus, jobId=k1, status=Status.OPEN):
        market.draw(k1, sender=keeper)
    with ape.reverts(market.JobMarketWrongStatus, jobId=k1, status=Status.OPEN):
        market.redraw(k1, sender=keeper)
    job_id = open_job(replicas=3)
    with ape.reverts(market.JobMarketNothingToRedraw, jobId=job_id):
        market.redraw(job_id, sender=keeper)  # nothing drawn yet
    draw_seats(job_id, pool)
    with ape.reverts(market.JobMarketNothingToDraw, jobId=job_id, drawBlock=0):
        market.draw(job_id, sender=keeper)  # every seat drawn
    accept_by = market.replica(job_id, 0).acceptDeadline
    chain.pending_timestamp = accept_by
    with ape.reverts(market.JobMarketNothingToRedraw, jobId=job_id):
        market.redraw(job_id, sender=keeper)  # the accept deadline itself is still the node's


def test_cancel__drawn_job__only_before_any_seat_is_accepted(
    market, client, pool, open_job, draw_seats
):
    untaken = open_job(replicas=3)
    tx = market.cancel(terms_of(market, untaken), sender=client)
    assert tx.decode_logs(market.Credited)[0].amount == PAY
    assert market.job(untaken).status == Status.CANCELLED
    taken = open_job(replicas=3)
    seat = draw_seats(taken, pool)[0]
    market.acceptSeat(taken, seat.id, sender=seat.operator)
    with ape.reverts(market.JobMarketWrongStatus, jobId=taken, status=Status.SEATING):
        market.cancel(terms_of(market, taken), sender=client)


def test_cancel__disputed_job__reverts_wrong_status(market, client, stranger, pool, open_job):
    job_id = open_job()
    market.claim(terms_of(market, job_id), pool[0].id, sender=pool[0].operator)
    market.submitProofs([_own_proof(job_id, pool[0])], sender=pool[0].operator)
    # Seating again, but round 1: the client's job was run
    market.dispute(terms_of(market, job_id), sender=stranger)
    with ape.reverts(market.JobMarketWrongStatus, jobId=job_id, status=Status.SEATING):
        market.cancel(terms_of(market, job_id), sender=client)


# ---------------------------------------------------------------------- requests
@pytest.mark.parametrize(
    "window,value,replicas",
    [
        ("claimWindow", 0, 1),
        ("claimWindow", MAX_WINDOW + 1, 1),
        ("executionWindow", 0, 1),
        ("executionWindow", MAX_WINDOW + 1, 1),
        ("revealWindow", 0, 1),  # k = 1 too: a dispute re-runs with commit-reveal
        ("revealWindow", MAX_WINDOW + 1, 3),
        ("disputeWindow", 0, 1),
        ("disputeWindow", MAX_WINDOW + 1, 3),
    ],
)
def test_create__window_out_of_range__reverts_invalid_window(
    market, client, pool, job_request, window, value, replicas
):
    with ape.reverts(market.JobMarketInvalidWindow, name=name32(window), value=value):
        market.createJob(job_request(replicas=replicas, **{window: value}), sender=client)


@pytest.mark.parametrize(
    "field,value,error,args",
    [
        ("payment", 10**18 - 1, "JobMarketPaymentBelowMinimum", dict(payment=10**18 - 1, minimum=10**18)),
        ("collateral", PAY // 10 - 1, "JobMarketCollateralTooLow", dict(collateral=PAY // 10 - 1, minimum=PAY // 10)),
        ("replicas", 0, "JobMarketInvalidReplicas", dict(replicas=0)),
        ("replicas", 2, "JobMarketInvalidReplicas", dict(replicas=2)),
        ("replicas", 16, "JobMarketInvalidReplicas", dict(replicas=16)),
        ("replicas", 17, "JobMarketInvalidReplicas", dict(replicas=17)),
        ("bundle_hash", ZERO, "JobMarketInvalidBundleHash", dict()),
    ],
)  # fmt: skip
def test_create__bad_request__reverts_with_the_values(
    market, client, pool, job_request, field, value, error, args
):
    with ape.reverts(getattr(market, error), **args):
        market.createJob(job_request(**{field: value}), sender=client)


def test_create__every_bound_exactly__is_accepted(market, client, pool, job_request):
    # Smallest payment, smallest collateral, k = 15, every window at its maximum; k = 3 without a
    # dispute window.
    minimum = MARKET_PARAMETERS["minJobFee"]
    req = job_request(
        payment=minimum,
        collateral=minimum * MARKET_PARAMETERS["minCollateralBps"] // 10_000,
        replicas=15,
        claimWindow=MAX_WINDOW,
        executionWindow=MAX_WINDOW,
        revealWindow=MAX_WINDOW,
        disputeWindow=MAX_WINDOW,
    )
    tx = market.createJob(req, sender=client)
    job = market.job(tx.decode_logs(market.JobCreated)[0].jobId)
    assert (job.k, job.payment, job.deadline) == (15, minimum, tx.timestamp + MAX_WINDOW)
    tx = market.createJob(job_request(replicas=3, disputeWindow=0), sender=client)
    assert tx.decode_logs(market.JobCreated)[0].replicas == 3


# ---------------------------------------------------------------------- governance
def test_set_parameters__every_bound_at_its_maximum__stores_and_emits(market, deployer):
    new = (1_000, 500, 10_000, 15, 5 * 10**18, MAX_WINDOW)
    tx = market.setParameters(new, sender=deployer)
    assert tuple(tx.decode_logs(market.ParametersSet)[0].parameters) == new
    assert tuple(market.parameters()) == new
    low = (0, 0, 0, 3, 1, 1)  # and at its minimum
    market.setParameters(low, sender=deployer)
    assert tuple(market.parameters()) == low


@pytest.mark.parametrize(
    "name,value",
    [
        ("protocolFeeBps", 1_001),
        ("keeperBountyBps", 501),
        ("minCollateralBps", 10_001),
        ("disputeReplicas", 1),
        ("disputeReplicas", 4),
        ("disputeReplicas", 17),
        ("minJobFee", 0),
        ("acceptWindow", 0),
        ("acceptWindow", MAX_WINDOW + 1),
    ],
)
def test_set_parameters__out_of_bounds__reverts(market, deployer, name, value):
    with ape.reverts(market.JobMarketParameterOutOfBounds, name=name32(name), value=value):
        market.setParameters(_params(**{name: value}), sender=deployer)
    assert tuple(market.parameters()) == PARAMS


def test_accept_window__sets_each_new_draws_deadline_capped_by_the_claim_deadline(
    chain, market, deployer, pool, keeper, open_job
):
    market.setParameters(_params(acceptWindow=60), sender=deployer)
    job_id = open_job(replicas=3)
    _mine_past_anchor(chain, market, job_id)
    tx = market.draw(job_id, sender=keeper)
    assert {e.acceptDeadline for e in tx.decode_logs(market.SeatDrawn)} == {tx.timestamp + 60}

    market.setParameters(_params(acceptWindow=MAX_WINDOW), sender=deployer)
    job_id = open_job(replicas=3)
    _mine_past_anchor(chain, market, job_id)
    tx = market.draw(job_id, sender=keeper)
    # A seat can never be accepted after the round's claim deadline.
    assert {e.acceptDeadline for e in tx.decode_logs(market.SeatDrawn)} == {
        market.job(job_id).deadline
    }


@pytest.mark.parametrize("call", ["setParameters", "pause", "unpause"])
def test_governance__by_non_owner__reverts(market, stranger, call):
    args = (PARAMS,) if call == "setParameters" else ()
    with ape.reverts(market.OwnableUnauthorizedAccount, account=stranger):
        getattr(market, call)(*args, sender=stranger)


def test_ownership__two_step_transfer__new_owner_governs_old_cannot(market, deployer, treasury):
    tx = market.transferOwnership(treasury, sender=deployer)
    ev = tx.decode_logs(market.OwnershipTransferStarted)[0]
    assert (ev.previousOwner, ev.newOwner) == (deployer, treasury)
    assert market.owner() == deployer  # not before it is accepted
    market.acceptOwnership(sender=treasury)
    assert market.owner() == treasury
    with ape.reverts(market.OwnableUnauthorizedAccount, account=deployer):
        market.pause(sender=deployer)
    market.pause(sender=treasury)
    assert market.paused()


# ---------------------------------------------------------------------- pause
def test_pause__stops_every_entry_that_takes_on_new_work(
    chain, market, deployer, client, stranger, keeper, pool, open_job, job_request, draw_seats
):
    open_k1 = open_job()
    proven = open_job()
    market.claim(terms_of(market, proven), pool[0].id, sender=pool[0].operator)
    market.submitProofs([_own_proof(proven, pool[0])], sender=pool[0].operator)
    anchored = open_job(replicas=3)
    drawn = open_job(replicas=3)
    seat = draw_seats(drawn, pool)[0]
    _mine_past_anchor(chain, market, anchored)

    tx = market.pause(sender=deployer)
    assert tx.decode_logs(market.Paused)[0].account == deployer

    stopped = {
        "createJob": lambda: market.createJob(job_request(), sender=client),
        "createJobWithPermit": lambda: market.createJobWithPermit(
            job_request(), 0, 27, ZERO, ZERO, sender=client
        ),
        "claim": lambda: market.claim(
            terms_of(market, open_k1), pool[1].id, sender=pool[1].operator
        ),
        "acceptSeat": lambda: market.acceptSeat(drawn, seat.id, sender=seat.operator),
        "draw": lambda: market.draw(anchored, sender=keeper),
        "dispute": lambda: market.dispute(terms_of(market, proven), sender=stranger),
    }
    for name, call in stopped.items():
        with ape.reverts(market.EnforcedPause):
            call()
        assert name
    chain.pending_timestamp = market.replica(drawn, 0).acceptDeadline + 1
    with ape.reverts(market.EnforcedPause):
        market.redraw(drawn, sender=keeper)

    tx = market.unpause(sender=deployer)
    assert tx.decode_logs(market.Unpaused)[0].account == deployer
    market.redraw(drawn, sender=keeper)
    assert market.job(drawn).seated < 3


def test_pause__never_traps_money(
    chain,
    market,
    token,
    rewards,
    deployer,
    client,
    keeper,
    pool,
    open_job,
    seated_job,
    commit,
    reveal,
):
    cancellable = open_job()
    unclaimed = open_job()
    unproven = open_job()
    market.claim(terms_of(market, unproven), pool[0].id, sender=pool[0].operator)
    running = open_job()
    market.claim(terms_of(market, running), pool[1].id, sender=pool[1].operator)
    k3, seats = seated_job(pool)
    commit(k3, seats, [RESULT] * 3, sender=keeper)
    market.pause(sender=deployer)

    market.cancel(terms_of(market, cancellable), sender=client)
    market.submitProofs([_own_proof(running, pool[1])], sender=pool[1].operator)
    assert market.job(running).status == Status.ACCEPTED
    tx = reveal(k3, seats, [RESULT] * 3, sender=keeper)
    assert market.job(k3).status == Status.PAID
    chain.pending_timestamp = market.job(running).deadline + 1
    tx = market.finalize(terms_of(market, running), sender=keeper)
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.jobId, paid.paidToNodes, paid.protocolFee) == (running, NET, FEE)
    chain.pending_timestamp = market.job(unproven).deadline + 1  # the latest of the deadlines
    market.expire(terms_of(market, unclaimed), sender=keeper)
    market.expire(terms_of(market, unproven), sender=keeper)
    dust = share(PAY - FEE, 3)[1] + share(FEE, 3)[1]  # of the k = 3 job's equal split
    assert market.pendingFees() == COL - BOUNTY + dust
    tx = market.flushFees(sender=keeper)
    assert tx.decode_logs(market.FeesFlushed)[0].amount == COL - BOUNTY + dust
    before = token.balanceOf(client)
    tx = market.withdraw(sender=client)
    # cancelled PAY + unclaimed (PAY - bounty) + unproven PAY (the seizure paid the keeper).
    assert tx.decode_logs(market.Withdrawn)[0].amount == 3 * PAY - BOUNTY
    assert token.balanceOf(client) == before + 3 * PAY - BOUNTY
    assert market.paused()


# ---------------------------------------------------------------------- createJobWithPermit
def _permit(token, owner, spender, value, deadline):
    """(v, r, s) of an EIP-2612 permit signed with `owner`'s private key."""
    _, name, version, chain_id, verifying, _, _ = token.eip712Domain()
    msg = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": name,
                "version": version,
                "chainId": chain_id,
                "verifyingContract": verifying,
            },
            "message": {
                "owner": owner.address,
                "spender": str(spender.address),
                "value": value,
                "nonce": token.nonces(owner),
                "deadline": deadline,
            },
        }
    )
    sig = Account.sign_message(msg, owner.private_key)
    return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")


@pytest.fixture
def permit_client(keeper, fund, token, market):
    """A client with TES but no allowance for the market (the pool clients have one)."""
    fund(keeper, PAY)
    assert token.allowance(keeper, market) == 0
    return keeper


def test_create_with_permit__signed_permit__escrows_without_approve(
    chain, market, token, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, permit_client, market, PAY, deadline)
    before, market_before = token.balanceOf(permit_client), token.balanceOf(market)

    tx = market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)

    ev = tx.decode_logs(market.JobCreated)[0]
    assert (ev.client, ev.payment) == (permit_client, PAY)
    assert token.balanceOf(permit_client) == before - PAY
    assert token.balanceOf(market) == market_before + PAY
    assert token.nonces(permit_client) == 1 and token.allowance(permit_client, market) == 0


def test_create_with_permit__permit_front_run__still_creates_the_job(
    chain, market, token, stranger, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, permit_client, market, PAY, deadline)
    token.permit(permit_client, market, PAY, deadline, v, r, s, sender=stranger)  # the front-run
    assert token.allowance(permit_client, market) == PAY
    before = token.balanceOf(permit_client)

    tx = market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)

    assert tx.decode_logs(market.JobCreated)[0].client == permit_client
    assert token.balanceOf(permit_client) == before - PAY
    assert token.allowance(permit_client, market) == 0


def test_create_with_permit__bad_permit_and_no_allowance__reverts_in_token(
    chain, market, token, stranger, permit_client, job_request
):
    deadline = chain.pending_timestamp + 3_600
    v, r, s = _permit(token, stranger, market, PAY, deadline)  # signed by someone else
    with ape.reverts(token.ERC20InsufficientAllowance, spender=market, allowance=0, needed=PAY):
        market.createJobWithPermit(job_request(), deadline, v, r, s, sender=permit_client)


# ---------------------------------------------------------------------- views
def test_views__digest_domain_commitment_match_oracle(chain, market, pool):
    commitment = commitment_of(7, 3, RESULT, salt_of(3))
    assert market.commitmentOf(7, 3, RESULT, salt_of(3)) == commitment
    items = [(7, 3, commitment), (8, 3, commitment)]
    assert market.proofDigest(items) == completion_digest(chain.chain_id, market.address, items)
    assert market.domainSeparator() == domain_separator(chain.chain_id, market.address)
    assert market.COMPLETION_TYPEHASH() == keccak(
        b"Completion(uint256 jobId,uint256 nodeId,bytes32 commitment)"
    )


def test_views__constants_match_the_python_helpers(market):
    assert (market.BPS(), market.SEAT_PENALTY_BPS(), market.DISPUTER_SHARE_BPS(), market.DISPUTE_FEE_BPS()) == (
        10_000, SEAT_PENALTY_BPS, DISPUTER_SHARE_BPS, DISPUTE_FEE_BPS,
    )  # fmt: skip
    assert (market.MAX_PROTOCOL_FEE_BPS(), market.MAX_KEEPER_BOUNTY_BPS()) == (1_000, 500)
    assert (market.MAX_REPLICAS(), market.MAX_WINDOW(), market.MAX_REDRAWS(), market.MAX_DRAW_ATTEMPTS()) == (
        15, MAX_WINDOW, 3, 8,
    )  # fmt: skip


def test_views__job_replica_and_accounts(
    market, token, registry, rewards, client, keeper, pool, seated_job, commit
):
    assert (market.token(), market.registry(), market.rewards()) == (
        token.address,
        registry.address,
        rewards.address,
    )
    assert tuple(market.parameters()) == PARAMS
    count = market.jobNonce(client)
    job_id, seats = seated_job(pool)
    assert market.jobNonce(client) == count + 1 and job_ids(market)[-1] == job_id
    commit(job_id, seats[:2], [RESULT] * 2, sender=keeper)

    job = market.job(job_id)
    assert market.jobOf(terms_of(market, job_id)) == job  # the same record, named by its terms
    assert (job.payment, job.collateral, job.k, job.round, job.client) == (PAY, COL, 3, 0, client)
    assert (job.claims, job.commits, job.reveals, job.replicaCount, job.seated) == (3, 2, 0, 3, 3)
    assert job.status == Status.RUNNING and job.drawBlock == 0
    for i, n in enumerate(seats):
        rep, index = replica_of(market, job_id, n.id)
        assert index == i
        assert (rep.nodeId, rep.round, rep.operator) == (n.id, 0, n.operator)
        assert rep.state == (ReplicaState.COMMITTED if i < 2 else ReplicaState.CLAIMED)
        assert rep.commitment == (_commitment(job_id, n) if i < 2 else ZERO)
    assert market.replica(job_id, 3).state == ReplicaState.NONE  # past the end: empty
    assert market.job(999).status == Status.NONE  # the view does not revert
