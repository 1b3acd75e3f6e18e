def test_smoke(rewards, owned_nodes, other_node, idle_node, goto_epoch, operator, chain):
    print(owned_nodes, other_node, idle_node, rewards.currentEpoch(), chain.pending_timestamp, rewards.genesisTime())
    tx = rewards.heartbeat(owned_nodes, sender=operator)
    print(tx.gas_used, tx.events)
    goto_epoch(rewards, 1)
    print(rewards.claimable(owned_nodes[0]))
