"""Real node processes on anvil claim, run, prove and get paid for jobs."""

import pytest

from tests.utils.constants import JOB_PAYMENT, MARKET_PARAMETERS, WINDOWS
from tests.utils.nodes import make_bundle, wait_for

pytestmark = pytest.mark.anvil

OPEN, RUNNING, REVEALING, ACCEPTED, PAID = 1, 2, 3, 4, 5
FEE = JOB_PAYMENT * MARKET_PARAMETERS["protocolFeeBps"] // 10_000

SCRIPT = """
import hashlib, json, os, random
out = os.environ["TES_OUTPUT_DIR"]
random.seed(int(os.environ.get("TES_SEED", "0")))
xs = [random.random() for _ in range(10000)]
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({"mean": sum(xs) / len(xs), "n": len(xs)}, f, sort_keys=True)
"""


def _status(market, job_id):
    return market.job(job_id).status


def test_k1_job__claimed_run_proven_and_paid_once(
    tmp_path, chain, market, registry, setup_node, node_owners, operators, create_job, spawn
):
    ids = [setup_node(node_owners[i], operators[i]) for i in range(2)]
    nodes = [spawn(0), spawn(1)]
    uri, bundle_hash, _ = make_bundle(tmp_path, SCRIPT)
    job_id = create_job(bundle_hash=bundle_hash, uri=uri)

    wait_for(lambda: _status(market, job_id) == ACCEPTED, 90, what="k=1 job accepted", nodes=nodes)
    rep = market.replica(job_id, 0)
    winner = ids.index(rep.nodeId)
    owner = node_owners[winner]
    before = market.credited(owner)

    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(lambda: _status(market, job_id) == PAID, 60, what="k=1 job finalized by the node", nodes=nodes)

    job = market.job(job_id)
    assert job.resultHash == bytes.fromhex(nodes[winner].db("SELECT result_hash FROM jobs WHERE job_id=?", job_id)[0][0])
    credited = market.credited(owner) - before
    assert credited == JOB_PAYMENT - FEE
    assert registry.node(rep.nodeId).completed == 1
    # exactly one claim got through; the other node saw the job filled and skipped it
    wait_for(lambda: nodes[1 - winner].stage(job_id) in ("skipped", None), 30, what="loser skips", nodes=nodes)


def test_k3_job__three_nodes_reach_consensus_and_are_paid(
    tmp_path, market, setup_node, node_owners, operators, create_job, spawn
):
    ids = [setup_node(node_owners[i], operators[i]) for i in range(3)]
    nodes = [spawn(i) for i in range(3)]
    uri, bundle_hash, _ = make_bundle(tmp_path, SCRIPT)
    job_id = create_job(bundle_hash=bundle_hash, uri=uri, replicas=3)

    wait_for(lambda: _status(market, job_id) == PAID, 120, what="k=3 job paid", nodes=nodes)
    each = (JOB_PAYMENT - FEE) // 3
    for i in range(3):
        assert market.credited(node_owners[i]) == each
    hashes = {n.db("SELECT result_hash FROM jobs WHERE job_id=?", job_id)[0][0] for n in nodes}
    assert len(hashes) == 1 and market.job(job_id).resultHash == bytes.fromhex(hashes.pop())
    assert sorted(market.replica(job_id, i).nodeId for i in range(3)) == sorted(ids)


def test_k1_job__node_on_ray_backend__paid_with_the_local_result(
    tmp_path, chain, market, setup_node, node_owners, operators, create_job, spawn
):
    """A node that scales out on Ray (here a local Ray it starts itself) settles like any other,
    and its result equals what the local sandbox computes for the same bundle."""
    from oracle import bundle as bundles
    from oracle.execute import LocalSandboxBackend

    setup_node(node_owners[0], operators[0])
    node = spawn(0, "--backend", "ray", "--workers", "1")
    uri, bundle_hash, path = make_bundle(tmp_path, SCRIPT)
    job_id = create_job(bundle_hash=bundle_hash, uri=uri)

    wait_for(lambda: _status(market, job_id) == ACCEPTED, 180, what="k=1 job accepted via Ray", nodes=[node])
    chain.pending_timestamp += WINDOWS["disputeWindow"] + 1
    chain.mine()
    wait_for(lambda: _status(market, job_id) == PAID, 60, what="k=1 job finalized", nodes=[node])

    manifest = bundles.unpack(path.read_bytes(), tmp_path / "local" / "bundle", 2**26)
    with LocalSandboxBackend(tmp_path / "local" / "work", max_workers=1) as local:
        expected = local.run_bundle(1, tmp_path / "local" / "bundle", manifest, tmp_path / "local" / "out")
    assert expected.status == "ok"
    assert market.job(job_id).resultHash == expected.result_hash
    assert f"job {job_id} executed: ok on the ray:" in node.log()  # ray:<worker node id>
