"""Escalation: a drawn round whose revealed seats have a majority and a dissent does not settle
itself. A fresh round of 2k + 1 seats (3 -> 7 -> 15), drawn from nodes and keys that never sat in
the job, re-runs it; its verdict judges every earlier seat. This is what stops seat capture: an
owner drawn into 2 of a round's 3 seats can out-vote the honest seat only if it also holds a
majority of the fresh round, where none of its seated licences may sit again.

The package pool (5 nodes) is too small to seat a fresh round, so this module adds ten nodes with
keys of their own (test_lifecycle_replicated.py and test_dispute.py cover a round nobody could seat).
"""

import pytest

from oracle.core.prove import commitment_of
from tests.utils.constants import JOB_COLLATERAL, JOB_PAYMENT
from tests.utils.market import (
    BOND,
    FEE,
    NET,
    OTHER_RESULT,
    RESULT,
    Node,
    Outcome,
    SeatState,
    Status,
    assert_escrow,
    earnings,
    pending_work,
    replica_of,
    salt_of,
    share,
    terms_of,
)

PAY, COL = JOB_PAYMENT, JOB_COLLATERAL
EXTRA_NODES = 10


@pytest.fixture(scope="module")
def crowd(pool, accounts, deployer, node_owners, setup_node):
    """The pool plus ten nodes, each with its own operator key: 15 nodes, 14 distinct keys."""
    extra = []
    for i in range(EXTRA_NODES):
        key = accounts.generate_test_account()
        deployer.transfer(key, 10**18)
        owner = node_owners[i % len(node_owners)]
        extra.append(Node(setup_node(owner, key), owner, key))
    return [*pool, *extra]


def _seized(tx, market):
    return sorted(e.nodeId for e in tx.decode_logs(market.CollateralSeized))


def _credits(tx, market):
    out = {}
    for e in tx.decode_logs(market.Credited):
        out[e.account] = out.get(e.account, 0) + e.amount
    return out


def _play(job_id, seats, results, commit, reveal, sender):
    commit(job_id, seats, results, sender)
    return reveal(job_id, seats, results, sender)


def _fresh_round(market, job_id, crowd, draw_seats, accept_all, seats):
    """Draws and accepts the escalated round; checks nobody in it sat in the job before."""
    earlier = [market.replica(job_id, i) for i in range(market.job(job_id).replicaCount)]
    drawn = draw_seats(job_id, crowd)
    assert len(drawn) == seats
    assert not {n.id for n in drawn} & {s.nodeId for s in earlier}
    assert not {n.operator.address for n in drawn} & {s.operator for s in earlier}
    accept_all(job_id, drawn)
    return drawn


def test_capture__two_seats_of_three_out_vote_the_honest_one__the_fresh_round_seizes_them(
    market,
    registry,
    rewards,
    crowd,
    client,
    stranger,
    seated_job,
    draw_seats,
    accept_all,
    commit,
    reveal,
):
    job_id, seats = seated_job(crowd)
    captured, honest = seats[:2], seats[2]
    tx = _play(job_id, seats, [OTHER_RESULT, OTHER_RESULT, RESULT], commit, reveal, stranger)
    ev = tx.decode_logs(market.RoundEscalated)[0]
    assert (ev.round, ev.seats, ev.standing) == (1, 7, OTHER_RESULT)

    jurors = _fresh_round(market, job_id, crowd, draw_seats, accept_all, 7)
    tx = _play(job_id, jurors, [RESULT] * 7, commit, reveal, stranger)

    assert _seized(tx, market) == sorted(n.id for n in captured)
    each, dust = share(2 * COL, 7)
    # Every winner is paid in its node's ledger; nobody is credited (no keeper settled it).
    assert _credits(tx, market) == {}
    assert earnings(tx, market) == {honest.id: NET, **{n.id: each for n in jurors}}
    # The fee is the honest node's work (kept for the epoch; Rewards sees it when pushed).
    assert tx.decode_logs(rewards.WorkRecorded) == []
    assert pending_work(market) == {honest.id: FEE}
    released = sorted((e.nodeId, e.outcome) for e in tx.decode_logs(registry.CollateralReleased))
    assert released == sorted((n.id, Outcome.COMPLETED) for n in [honest, *jurors])
    assert market.credited(client) == 0
    assert_escrow(market)
    job = market.job(job_id)
    assert (job.status, job.round, job.commitment) == (Status.PAID, 1, RESULT)
    paid = tx.decode_logs(market.JobPaid)[0]
    assert (paid.resultHash, paid.paidToNodes, paid.protocolFee) == (RESULT, NET, FEE)
    for n in captured:
        assert registry.node(n.id).slashed == 1


def test_capture__a_jury_majority_against_a_true_result__is_re_run__the_bond_and_the_liars_pay(
    market,
    rewards,
    crowd,
    client,
    stranger,
    keeper,
    open_job,
    draw_seats,
    accept_all,
    commit,
    reveal,
):
    original = crowd[0]
    job_id = open_job()
    market.claim(terms_of(market, job_id), original.id, sender=original.operator)
    commitment = commitment_of(job_id, original.id, RESULT, salt_of(original.id))
    market.submitProofs([([(job_id, original.id, commitment)], b"")], sender=original.operator)
    market.dispute(terms_of(market, job_id), sender=stranger)
    jury = _fresh_round(market, job_id, crowd, draw_seats, accept_all, 3)
    _play(job_id, jury, [OTHER_RESULT, OTHER_RESULT, RESULT], commit, reveal, keeper)
    tx = reveal(job_id, [original], [RESULT], keeper)  # completes round 1: 2-1, escalated
    ev = tx.decode_logs(market.RoundEscalated)[0]
    assert (ev.round, ev.seats, ev.standing) == (2, 7, OTHER_RESULT)
    assert market.job(job_id).status == Status.SEATING

    second = _fresh_round(market, job_id, crowd, draw_seats, accept_all, 7)
    tx = _play(job_id, second, [RESULT] * 7, commit, reveal, keeper)

    assert [(e.resultUpheld, e.majorityResult) for e in tx.decode_logs(market.DisputeResolved)] == [
        (True, RESULT)
    ]
    assert _seized(tx, market) == sorted(n.id for n in jury[:2])
    right = [jury[2], *second]
    each, dust = share(2 * COL + BOND, len(right))  # the wrong disputer's bond joins the pot
    assert _credits(tx, market) == {}
    assert earnings(tx, market) == {original.id: NET, **{n.id: each for n in right}}
    assert market.credited(stranger) == 0 and market.credited(client) == 0
    assert tx.decode_logs(rewards.WorkRecorded) == []
    assert pending_work(market) == {original.id: FEE}
    assert_escrow(market)
    job = market.job(job_id)
    assert (job.status, job.round, job.commitment) == (Status.PAID, 2, RESULT)


def test_escalation__a_seated_round_without_a_majority__the_verdict_before_it_stands(
    chain,
    market,
    registry,
    crowd,
    stranger,
    keeper,
    seated_job,
    draw_seats,
    accept_all,
    commit,
    reveal,
):
    job_id, seats = seated_job(crowd)
    _play(job_id, seats, [RESULT, RESULT, OTHER_RESULT], commit, reveal, stranger)
    jurors = _fresh_round(market, job_id, crowd, draw_seats, accept_all, 7)
    talking, silent = jurors[:2], jurors[2:]
    commit(job_id, talking, [RESULT, OTHER_RESULT], stranger)
    chain.pending_timestamp = market.job(job_id).deadline + 1
    # Execution window over: the two that committed reveal.
    market.expire(terms_of(market, job_id), sender=keeper)

    tx = reveal(job_id, talking, [RESULT, OTHER_RESULT], stranger)  # every committed seat revealed

    # Round 1 decided nothing: its revealers are released without fault, its silent seats seized;
    # round 0's majority stands and its dissenter is seized.
    assert _seized(tx, market) == sorted([seats[2].id, *(n.id for n in silent)])
    released = sorted((e.nodeId, e.outcome) for e in tx.decode_logs(registry.CollateralReleased))
    assert released == sorted(
        [
            *((n.id, Outcome.NO_FAULT) for n in talking),
            *((n.id, Outcome.COMPLETED) for n in seats[:2]),
        ]
    )
    job = market.job(job_id)
    assert (job.status, job.commitment) == (Status.PAID, RESULT)
    assert replica_of(market, job_id, seats[2].id)[0].state == SeatState.REVEALED


def test_escalation__capped_at_fifteen_seats__a_nine_seat_round_with_a_dissent_decides_itself(
    market, crowd, stranger, seated_job, commit, reveal
):
    job_id, seats = seated_job(crowd, replicas=9)
    tx = _play(job_id, seats, [RESULT] * 8 + [OTHER_RESULT], commit, reveal, stranger)
    assert tx.decode_logs(market.RoundEscalated) == []
    assert _seized(tx, market) == [seats[8].id]
    job = market.job(job_id)
    assert (job.status, job.round, job.commitment) == (Status.PAID, 0, RESULT)
