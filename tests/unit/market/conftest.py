import pytest


@pytest.fixture
def node(setup_node, node_owner, operator):
    """An active node with default capabilities, run by `operator`."""
    return setup_node(node_owner, operator)


@pytest.fixture
def replica_nodes(setup_node, node_owners, operators):
    """Four active nodes with distinct owners and operators."""
    return [setup_node(o, op) for o, op in zip(node_owners, operators)]
