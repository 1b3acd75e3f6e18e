"""A reorg that drops a real `tes-node`'s proof is recovered: the node, run with confirmations,
sees that its proof's block is no longer canonical before it counts the proof done, sends it
again, and the job settles and pays once (before, the proof was done at its first receipt and the
node was slashed for a proof it believed sent)."""

import os

import pytest

from oracle.node.store import IntentKind, IntentStatus, Stage
from tests.integration.test_node_faults import (
    assert_paid_once,
    bundle,
    committed_result,
    job_script,
    ok_hash,
    replica_state,
    rpc,
    settle_k1,
)
from tests.utils.market import NET, ReplicaState, earned
from tests.utils.nodes import no_gpu_path, wait_for

pytestmark = pytest.mark.anvil

# The node's confirmations (TES_REORG_TEST_CONFIRMATIONS=0 shows the test failing as the old node
# did: a proof done at its first receipt is never sent again).
CONFIRMATIONS = os.environ.get("TES_REORG_TEST_CONFIRMATIONS", "2")


def test_reorg_drops_the_nodes_proof__node_sends_it_again_and_the_job_is_paid_once(
    tmp_path, chain, market, registry, setup_node, node_owners, operators, create_job, spawn
):
    node_id = setup_node(node_owners[0], operators[0])
    owner = node_owners[0]
    node = spawn(0, "--confirmations", CONFIRMATIONS, env={"PATH": no_gpu_path(tmp_path / "bin")})
    wait_for(node.quiet, 60, what="node started and idle", nodes=[node])
    uri, h = bundle(tmp_path, "job", job_script("reorged-proof", sleep=3))
    block0, before = chain.blocks.head.number, earned(market, owner)

    job_id = create_job(bundle_hash=h, uri=uri)
    chain.mine(int(CONFIRMATIONS))  # the job's event is buried deep enough for the node
    wait_for(
        lambda: node.stage(job_id) == Stage.RUNNING, 60, what="claimed and running", nodes=[node]
    )
    assert replica_state(market, job_id, node_id) == ReplicaState.CLAIMED

    snapshot = chain.snapshot()  # the fork point: after the claim, before the proof
    wait_for(
        lambda: replica_state(market, job_id, node_id) == ReplicaState.COMMITTED,
        60,
        what="proof mined",
        nodes=[node],
    )
    (proof,) = node.intents(job_id, IntentKind.PROOF)
    dropped = proof["tx_hash"]
    assert rpc(chain, "eth_getTransactionReceipt", dropped) is not None

    # The reorg: the proof's block is replaced and the transaction is gone from the mempool too
    # (on a real chain another branch won and the transaction was evicted).
    chain.restore(snapshot)
    rpc(chain, "anvil_dropAllTransactions")
    assert replica_state(market, job_id, node_id) == ReplicaState.CLAIMED

    # The node notices before the proof is confirmed, and sends it again (anvil mines it at once).
    wait_for(
        lambda: replica_state(market, job_id, node_id) == ReplicaState.COMMITTED,
        60,
        what="proof sent again after the reorg",
        nodes=[node],
    )
    assert "no longer in the chain; back to pending" in node.log()
    chain.mine(int(CONFIRMATIONS))
    wait_for(
        lambda: (
            [i["status"] for i in node.intents(job_id, IntentKind.PROOF)] == [IntentStatus.DONE]
        ),
        30,
        what="proof confirmed",
        nodes=[node],
    )
    assert node.intents(job_id, IntentKind.PROOF)[0]["attempts"] == 2  # one intent, sent twice

    settle_k1(chain, market, [job_id], [node])
    assert committed_result(market, node, job_id) == ok_hash(tmp_path, "reorged-proof")
    assert_paid_once(chain, market, registry, job_id, block0, [owner], [node_id], [before], NET)
