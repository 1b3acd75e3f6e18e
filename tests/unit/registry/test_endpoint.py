import ape


def test_announce_endpoint__by_operator__emits(registry, setup_node, node_owner, operator):
    node = setup_node(node_owner, operator)
    tx = registry.announceEndpoint(node, "http://10.0.0.1:8080", sender=operator)
    ev = tx.decode_logs(registry.EndpointAnnounced)[0]
    assert ev.nodeId == node and ev.url == "http://10.0.0.1:8080"


def test_announce_endpoint__by_owner_or_stranger__reverts(
    registry, setup_node, node_owner, operator, stranger
):
    node = setup_node(node_owner, operator)
    for who in (node_owner, stranger):
        with ape.reverts(registry.NodeRegistryNotOperator):
            registry.announceEndpoint(node, "http://x", sender=who)
