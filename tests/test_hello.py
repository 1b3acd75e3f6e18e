import pytest


@pytest.fixture
def owner(accounts):
    return accounts[0]


@pytest.fixture
def hello(project, owner):
    return owner.deploy(project.Hello)


def test_erc20_and_transient_guard(hello, owner, accounts):
    assert hello.balanceOf(owner) == 1000 * 10**18
    hello.transfer(accounts[1], 5, sender=owner)
    assert hello.balanceOf(accounts[1]) == 5
    hello.bump(sender=owner)  # nonReentrant uses TSTORE/TLOAD (Cancun)
    hello.bump(sender=owner)
    assert hello.counter() == 2


@pytest.mark.anvil
def test_on_anvil(hello, owner, chain):
    assert "anvil" in chain.provider.name or chain.provider.name == "foundry"
    hello.bump(sender=owner)
    assert hello.counter() == 1
