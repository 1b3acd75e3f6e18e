"""The licence tells the registry whenever a licence changes hands."""

from pathlib import Path

import ape
import pytest

from tests.utils.constants import JAIL_PERIOD, MIN_STAKE, UNBONDING_DELAY
from tests.utils.constants import TIER_PRICE as PRICE

ZERO = "0x0000000000000000000000000000000000000000"
HAS_REGISTRY = (Path(__file__).parents[3] / "contracts" / "NodeRegistry.sol").exists()


def calls(registry):
    return [tuple(registry.calls(i)) for i in range(registry.callCount())]


def test_mint__does_not_notify_registry(licence, mock_registry, node_owner):
    tx = licence.buy(0, 2, value=2 * PRICE, sender=node_owner)
    assert mock_registry.callCount() == 0
    assert tx.decode_logs(mock_registry.LicenceTransferNotified) == []


def test_transfer_from__notifies_registry_with_ids_and_holders(
    licence, mock_registry, bought, node_owner, stranger
):
    tx = licence.transferFrom(node_owner, stranger, bought, sender=node_owner)
    assert licence.ownerOf(bought) == stranger.address
    assert calls(mock_registry) == [(licence.address, bought, node_owner.address, stranger.address)]
    [log] = tx.decode_logs(mock_registry.LicenceTransferNotified)
    assert (log.caller, log.nodeId, log["from"], log.to) == (
        licence.address,
        bought,
        node_owner.address,
        stranger.address,
    )


def test_safe_transfer_from__notifies_registry(
    licence, mock_registry, bought, node_owner, stranger
):
    licence.safeTransferFrom(node_owner, stranger, bought, sender=node_owner)
    assert calls(mock_registry) == [(licence.address, bought, node_owner.address, stranger.address)]


def test_transfer__by_approved_operator__reports_owner_as_from(
    licence, mock_registry, bought, node_owner, keeper, stranger
):
    licence.setApprovalForAll(keeper, True, sender=node_owner)
    licence.transferFrom(node_owner, stranger, bought, sender=keeper)
    assert calls(mock_registry) == [(licence.address, bought, node_owner.address, stranger.address)]


def test_transfer__each_hop__notifies_registry(
    licence, mock_registry, bought, node_owner, client, stranger
):
    licence.transferFrom(node_owner, client, bought, sender=node_owner)
    licence.transferFrom(client, stranger, bought, sender=client)
    assert calls(mock_registry) == [
        (licence.address, bought, node_owner.address, client.address),
        (licence.address, bought, client.address, stranger.address),
    ]


def test_transfer__to_self__does_not_notify_registry(licence, mock_registry, bought, node_owner):
    licence.transferFrom(node_owner, node_owner, bought, sender=node_owner)
    assert licence.ownerOf(bought) == node_owner.address
    assert mock_registry.callCount() == 0


def test_transfer__without_registry__still_works(licence, bought, node_owner, stranger):
    assert licence.registry() == ZERO
    licence.transferFrom(node_owner, stranger, bought, sender=node_owner)
    assert licence.ownerOf(bought) == stranger.address


def test_transfer__by_stranger__reverts_without_notifying(
    licence, mock_registry, bought, node_owner, stranger
):
    with ape.reverts(licence.ERC721InsufficientApproval, operator=stranger.address, tokenId=bought):
        licence.transferFrom(node_owner, stranger, bought, sender=stranger)
    assert mock_registry.callCount() == 0


@pytest.mark.skipif(not HAS_REGISTRY, reason="contracts/NodeRegistry.sol not written yet")
def test_transfer__with_real_registry__unbinds_operator(
    project, licence, deployer, treasury, bought, node_owner, operator, stranger
):
    # Deployed here, against this module's licence, with tests/conftest.py's arguments.
    token = project.TESToken.deploy(treasury, 10**27, 0, sender=deployer)
    registry = project.NodeRegistry.deploy(
        deployer, token, licence, MIN_STAKE, UNBONDING_DELAY, JAIL_PERIOD, sender=deployer
    )
    licence.setRegistry(registry, sender=deployer)
    registry.bindOperator(bought, operator, sender=node_owner)
    registry.acceptOperator(bought, sender=operator)
    assert registry.operatorOf(bought) == operator.address
    tx = licence.transferFrom(node_owner, stranger, bought, sender=node_owner)
    assert licence.ownerOf(bought) == stranger.address
    assert registry.operatorOf(bought) == ZERO
    assert registry.ownerOfNode(bought) == stranger.address
    [log] = tx.decode_logs(registry.OperatorUnbound)
    assert (log.nodeId, log.operator) == (bought, operator.address)
