"""Local fixtures for node licences: a tier factory, a recording registry, ETH-rejecting buyers."""

import pytest

from tests.utils.constants import TIER_PRICE, TIER_SUPPLY


@pytest.fixture(scope="module", autouse=True)
def _roles_first(deployer, treasury, client, node_owner, operator, keeper, stranger):
    """Pulls the session role fixtures before any module state, so ape need not rebase."""


@pytest.fixture(scope="module")
def licence(project, deployer, treasury):
    """A fresh licence with the shared fixture's tier 0 and no registry, per module.

    Overrides tests/conftest.py's session `licence`: once any earlier test pulls the shared
    `registry` fixture, ape keeps it alive and the shared licence is already wired to it.
    """
    c = project.NodeLicense.deploy(deployer, treasury, sender=deployer)
    c.addTier(TIER_PRICE, TIER_SUPPLY, 0, 0, 0, sender=deployer)
    return c


@pytest.fixture
def add_tier(licence, deployer):
    """Factory: adds a tier as the owner and returns its id."""

    def add(price=TIER_PRICE, supply=TIER_SUPPLY, per_wallet_cap=0, sale_start=0, sale_end=0):
        tx = licence.addTier(price, supply, per_wallet_cap, sale_start, sale_end, sender=deployer)
        return tx.decode_logs(licence.TierAdded)[0].tierId

    return add


@pytest.fixture
def mock_registry(project, licence, deployer):
    """A registry stand-in that records every onLicenceTransfer call, wired into the licence."""
    r = project.MockLicenceRegistry.deploy(sender=deployer)
    licence.setRegistry(r, sender=deployer)
    return r


@pytest.fixture
def reverting_buyer(project, licence, stranger):
    """A contract buyer whose receive() reverts (and can be told to re-enter buy instead)."""
    return project.RevertingLicenceBuyer.deploy(licence, sender=stranger)


@pytest.fixture
def bought(licence, node_owner):
    """node_owner holds licence #1 (tier 0)."""
    licence.buy(0, 1, value=TIER_PRICE, sender=node_owner)
    return 1
