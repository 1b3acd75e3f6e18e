"""Real node processes on anvil take seats, run, prove and get paid for jobs (protocol v2): a
k = 1 job claimed first-come, a k = 3 job whose seats the contract draws, and a k = 1 job a client
disputes, whose jury of three other real nodes is drawn, re-runs it and upholds the result."""

import pytest
import requests

from oracle.core.protocol import job_hex
from oracle.core.prove import commitment_of
from oracle.core.result_request import sign_result_request
from oracle.node.store import IntentKind, IntentStatus
from tests.utils.constants import JOB_COLLATERAL, WINDOWS
from tests.utils.market import (
    BOND,
    NET,
    SeatState,
    Status,
    earned,
    replica_of,
    share,
    stored_commitment,
    terms_of,
)
from tests.utils.nodes import make_bundle, wait_for

pytestmark = pytest.mark.anvil

SCRIPT = """
import hashlib, json, os, random
out = os.environ["TES_OUTPUT_DIR"]
random.seed(int(os.environ.get("TES_SEED", "0")))
xs = [random.random() for _ in range(10000)]
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({"mean": sum(xs) / len(xs), "n": len(xs)}, f, sort_keys=True)
"""


def _status(market, job_id) -> Status:
    return Status(market.job(job_id).status)


def _stored(node, job_id) -> tuple[bytes, bytes]:
    """(result hash, salt) the node stored for the job."""
    ((result, salt),) = node.db(
        "SELECT result_hash, salt FROM jobs WHERE job_id=?", job_hex(job_id)
    )
    return bytes.fromhex(result), bytes.fromhex(salt)


def _events(chain, event, job_id, start):
    return list(event.range(start, chain.blocks.head.number + 1, search_topics={"jobId": job_id}))


def _mine_past_anchor(chain, market, job_id) -> None:
    """Anvil mines a block per transaction only: the draw needs one after the anchor block. The
    nodes' heartbeats may provide it; the test does not wait for them."""
    anchor = market.job(job_id).drawBlock
    if anchor:
        chain.mine(max(1, anchor + 1 - chain.blocks.head.number))


def _fetch(node, chain, market, job_id, signer, node_id) -> requests.Response:
    url = (node.data_dir / "http.url").read_text().strip()
    headers = sign_result_request(
        signer.private_key, job_id, node_id, chain.chain_id, market.address
    )
    return requests.get(f"{url}/results/{job_id}", headers=headers, timeout=10)


def test_k1_job__claimed_run_proven_with_a_salted_commitment_and_paid_once(
    tmp_path,
    chain,
    market,
    registry,
    client,
    stranger,
    setup_node,
    node_owners,
    operators,
    create_job,
    spawn,
):
    ids = [setup_node(node_owners[i], operators[i]) for i in range(2)]
    nodes = [spawn(0), spawn(1)]
    uri, bundle_hash, _ = make_bundle(tmp_path, SCRIPT)
    block0 = chain.blocks.head.number
    job_id = create_job(bundle_hash=bundle_hash, uri=uri)

    wait_for(
        lambda: _status(market, job_id) == Status.ACCEPTED, 90, what="k=1 job accepted", nodes=nodes
    )
    rep = market.replica(job_id, 0)
    winner = ids.index(rep.nodeId)
    owner = node_owners[winner]
    before = earned(market, owner)
    result, salt = _stored(nodes[winner], job_id)
    # the chain holds only the salted commitment, never the result hash
    assert market.job(job_id).commitment == stored_commitment(job_id, rep.nodeId, result, salt)
    # the client (only) fetches the files with what opens the commitment
    url = (nodes[winner].data_dir / "http.url").read_text().strip()
    headers = sign_result_request(
        client.private_key, job_id, rep.nodeId, chain.chain_id, market.address
    )
    got = requests.get(f"{url}/results/{job_id}", headers=headers, timeout=10)
    assert got.status_code == 200, got.text
    assert (got.headers["X-TES-Node"], got.headers["X-TES-Salt"]) == (
        str(rep.nodeId),
        "0x" + salt.hex(),
    )
    # the same signed request again (a copier that saw it on the wire) is refused
    again = requests.get(f"{url}/results/{job_id}", headers=headers, timeout=10)
    assert (again.status_code, again.text) == (403, "request replayed (nonce already used)")
    assert _fetch(nodes[winner], chain, market, job_id, stranger, rep.nodeId).status_code == 403
    # metrics are on their own, loopback-only address, not on the public results endpoint
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 404
    metrics_url = (nodes[winner].data_dir / "metrics.url").read_text().strip()
    assert metrics_url.startswith("http://127.0.0.1:")
    assert "tes_" in requests.get(f"{metrics_url}/metrics", timeout=10).text

    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(
        lambda: _status(market, job_id) == Status.PAID,
        60,
        what="k=1 job finalized by the node",
        nodes=nodes,
    )

    assert earned(market, owner) - before == NET
    # the node settled its own job with settleAndWithdraw: the owner holds the TES, nothing is
    # left in the node's ledger, and the job's fee waits there as the node's work for Rewards
    ledger = market.ledger(rep.nodeId)
    assert ledger.earned == 0 and ledger.work > 0
    head = chain.blocks.head.number + 1
    sent = market.EarningsWithdrawn.range(block0, head, search_topics={"nodeId": rep.nodeId})
    assert [(e.owner, e.amount) for e in sent] == [(owner.address, NET)]
    assert [e.nodeId for e in _events(chain, market.EarningsCredited, job_id, block0)] == [
        rep.nodeId
    ]
    assert registry.node(rep.nodeId).completed == 1
    assert len(_events(chain, market.JobPaid, job_id, block0)) == 1
    assert len(_events(chain, market.JobClaimed, job_id, block0)) == 1
    # exactly one claim got through; the other node saw the job filled and skipped it
    wait_for(
        lambda: nodes[1 - winner].stage(job_id) in ("skipped", None),
        30,
        what="loser skips",
        nodes=nodes,
    )


def test_k3_job__seats_drawn_accepted_by_three_nodes_which_agree_and_are_paid(
    tmp_path, chain, market, registry, setup_node, node_owners, operators, create_job, spawn
):
    ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    nodes = [spawn(i) for i in range(3)]
    uri, bundle_hash, _ = make_bundle(tmp_path, SCRIPT)
    block0 = chain.blocks.head.number
    before = [earned(market, o) for o in node_owners[:3]]
    job_id = create_job(bundle_hash=bundle_hash, uri=uri, replicas=3)
    assert _status(market, job_id) == Status.SEATING
    _mine_past_anchor(chain, market, job_id)

    wait_for(lambda: _status(market, job_id) == Status.PAID, 120, what="k=3 job paid", nodes=nodes)
    each, _ = share(NET, 3)
    for i in range(3):
        assert earned(market, node_owners[i]) - before[i] == each
        assert registry.node(ids[i]).completed == 1
    results = {_stored(n, job_id)[0] for n in nodes}
    assert len(results) == 1 and market.job(job_id).commitment == results.pop()
    drawn = {e.nodeId for e in _events(chain, market.SeatDrawn, job_id, block0)}
    assert drawn == set(ids)  # nobody claimed: every seat was drawn, then accepted by its node
    assert {e.nodeId for e in _events(chain, market.JobClaimed, job_id, block0)} == set(ids)
    assert all(replica_of(market, job_id, i)[0].state == SeatState.REVEALED for i in ids)
    assert len(_events(chain, market.JobPaid, job_id, block0)) == 1


def test_k1_job_disputed__drawn_jury_of_real_nodes_reruns_and_upholds__bond_pays_the_jurors(
    tmp_path,
    chain,
    market,
    registry,
    token,
    fund,
    client,
    setup_node,
    node_owners,
    operators,
    create_job,
    spawn,
):
    """Node 0 runs a k = 1 job alone. The client disputes it with a bond; nodes 1-3 (started
    now) are drawn as the jury, accept, re-run the job, commit and reveal, and node 0 reveals its
    committed result next to them. The jury agrees with node 0: the dispute fails, the bond is
    split between the jurors and node 0 is paid."""
    ids = [setup_node(node_owners[i], operators[i]) for i in range(4)]
    original = spawn(0)
    uri, bundle_hash, _ = make_bundle(tmp_path, SCRIPT)
    block0 = chain.blocks.head.number
    before = [earned(market, o) for o in node_owners]
    job_id = create_job(bundle_hash=bundle_hash, uri=uri)
    wait_for(
        lambda: _status(market, job_id) == Status.ACCEPTED,
        90,
        what="k=1 job accepted",
        nodes=[original],
    )
    assert market.replica(job_id, 0).nodeId == ids[0]

    jurors = [spawn(i) for i in (1, 2, 3)]
    wait_for(lambda: all(j.quiet() for j in jurors), 60, what="jurors started", nodes=jurors)
    fund(client, JOB_COLLATERAL)
    token.approve(market, JOB_COLLATERAL, sender=client)
    market.dispute(terms_of(market, job_id), sender=client)
    assert _status(market, job_id) == Status.SEATING and market.job(job_id).round == 1
    _mine_past_anchor(chain, market, job_id)
    nodes = [original, *jurors]

    wait_for(
        lambda: _status(market, job_id) == Status.PAID, 180, what="dispute settled", nodes=nodes
    )
    result, salt = _stored(original, job_id)
    resolved = _events(chain, market.DisputeResolved, job_id, block0)
    assert [(e.resultUpheld, e.majorityResult) for e in resolved] == [(True, result)]
    # Settled: the record holds the result the dispute made public (its commitment checks out).
    assert market.job(job_id).commitment == result
    assert market.replica(job_id, 0).commitment == result
    # The original's k = 1 proof (ResultAccepted, the job's one node) opens to the result.
    proofs = _events(chain, market.ResultAccepted, job_id, block0)
    assert [e.commitment for e in proofs] == [commitment_of(job_id, ids[0], result, salt)]
    each, _ = share(BOND, 3)
    for i in (1, 2, 3):
        assert earned(market, node_owners[i]) - before[i] == each
        assert replica_of(market, job_id, ids[i])[0].round == 1
        assert _stored(nodes[i], job_id)[0] == result
    assert earned(market, node_owners[0]) - before[0] == NET
    assert {e.nodeId for e in _events(chain, market.SeatDrawn, job_id, block0)} == set(ids[1:])
    wait_for(lambda: [i["status"] for i in original.intents(job_id, IntentKind.REVEAL)] == [IntentStatus.DONE], 30,
             what="the original's reveal confirmed", nodes=[original])  # fmt: skip
    # the dispute made the result public: the payout names it
    assert [e.resultHash for e in _events(chain, market.JobPaid, job_id, block0)] == [result]


def test_operator_binding__node_accepts_only_the_licence_named_in_its_config(
    chain, licence, registry, node_owners, operators, spawn
):
    """Two owners propose operator 0's key for their licences; the node is started for the first
    licence only (`--node-id`). It accepts that binding itself and never the other one."""
    from tests.utils.constants import TIER_PRICE

    named, other = (
        licence.buy(0, 1, value=TIER_PRICE, sender=o)
        .decode_logs(licence.LicencesPurchased)[0]
        .firstTokenId
        for o in node_owners[:2]
    )
    for node_id, owner in ((named, node_owners[0]), (other, node_owners[1])):
        registry.bindOperator(node_id, operators[0], sender=owner)
    node = spawn(0, "--node-id", str(named))

    wait_for(
        lambda: registry.operatorOf(named) == operators[0].address,
        60,
        what="binding accepted",
        nodes=[node],
    )
    wait_for(node.quiet, 30, what="node idle", nodes=[node])
    assert registry.operatorOf(other) != operators[0].address
    assert registry.pendingOperatorOf(other) == operators[0].address
    assert [(i["node_id"], i["status"]) for i in node.intents(kind="accept_operator")] == [
        (named, "done")
    ]


def test_k1_job__node_on_ray_backend__paid_with_the_local_result(
    tmp_path, chain, market, setup_node, node_owners, operators, create_job, spawn
):
    """A node that scales out on Ray (here a local Ray it starts itself) settles like any other,
    and its result equals what the local sandbox computes for the same bundle."""
    from oracle.core import bundle as bundles
    from oracle.execute import LocalSandboxBackend

    node_id = setup_node(node_owners[0], operators[0])
    node = spawn(0, "--backend", "ray", "--workers", "1")
    uri, bundle_hash, path = make_bundle(tmp_path, SCRIPT)
    job_id = create_job(bundle_hash=bundle_hash, uri=uri)

    wait_for(
        lambda: _status(market, job_id) == Status.ACCEPTED,
        180,
        what="k=1 job accepted via Ray",
        nodes=[node],
    )
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(
        lambda: _status(market, job_id) == Status.PAID, 60, what="k=1 job finalized", nodes=[node]
    )

    manifest = bundles.unpack(path.read_bytes(), tmp_path / "local" / "bundle", 2**26)
    with LocalSandboxBackend(tmp_path / "local" / "work", max_workers=1) as local:
        expected = local.run_bundle(
            1, tmp_path / "local" / "bundle", manifest, tmp_path / "local" / "out"
        )
    assert expected.status == "ok"
    _, salt = _stored(node, job_id)
    assert market.job(job_id).commitment == stored_commitment(
        job_id, node_id, expected.result_hash, salt
    )
    assert f"job {job_hex(job_id)} executed: ok on the ray:" in node.log()  # ray:<worker node id>
