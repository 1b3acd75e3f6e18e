"""oracle.localnet.deployment: deploy_all wires the five contracts, check_wiring catches what is not,
and a deployment record round-trips."""

import dataclasses
import json

import pytest

from oracle.core.errors import ConfigError
from oracle.core.protocol import MARKET_PARAMETER_FIELDS
from oracle.localnet.deployment import (
    DEFAULTS,
    MARKET_PARAMETERS,
    Deployment,
    DeploymentError,
    attach,
    check_wiring,
    deploy_all,
    load_record,
    record_path,
    save_record,
)
from tests.utils.constants import MIN_STAKE, TIER_PRICE


@pytest.fixture(scope="module")
def deployed(project, deployer, treasury):
    return deploy_all(project, deployer, treasury)


def test_deploy_all__wires_every_contract_to_the_others(deployed, deployer, treasury):
    d = deployed
    assert d.licence.registry() == d.registry.address
    assert d.token.minter() == d.rewards.address
    assert d.registry.jobMarket() == d.market.address
    assert d.rewards.jobMarket() == d.market.address
    assert d.market.token() == d.token.address and d.market.rewards() == d.rewards.address
    assert d.deployer == deployer.address and d.block_number > 0
    assert d.token.balanceOf(treasury) == DEFAULTS.genesis_supply
    check_wiring(d)  # does not raise


def test_deploy_all__uses_default_parameters(deployed, deployer):
    d = deployed
    assert d.licence.tierCount() == 1 and d.licence.tier(0).price == TIER_PRICE
    assert d.registry.minStake() == MIN_STAKE
    assert d.rewards.epochLength() == DEFAULTS.epoch_length
    assert tuple(d.market.parameters()) == tuple(MARKET_PARAMETERS.values())
    assert d.market.owner() == deployer.address
    assert d.params.genesis_time == d.rewards.genesisTime()


def test_market_parameters__named_in_the_order_the_chain_returns_them(deployed):
    """The client SDK and scripts zip `market.parameters()` with MARKET_PARAMETER_FIELDS."""
    d = deployed
    assert tuple(MARKET_PARAMETERS) == MARKET_PARAMETER_FIELDS
    returned = d.market.parameters()
    assert {name: getattr(returned, name) for name in MARKET_PARAMETER_FIELDS} == MARKET_PARAMETERS
    assert (
        MARKET_PARAMETERS["acceptWindow"] == 600 and MARKET_PARAMETERS["disputeReplicas"] % 2 == 1
    )


def test_deploy_all__with_overridden_parameters__deploys_them(project, deployer, treasury):
    params = dataclasses.replace(
        DEFAULTS, min_stake=7 * MIN_STAKE, market={**DEFAULTS.market, "protocolFeeBps": 250}
    )

    d = deploy_all(project, deployer, treasury, params=params)

    assert d.registry.minStake() == 7 * MIN_STAKE
    assert d.market.parameters().protocolFeeBps == 250


def test_check_wiring__unwired_market__raises_naming_each_link(project, deployed, deployer):
    d = deployed
    stray = project.JobMarket.deploy(
        deployer, d.token, d.registry, d.rewards, DEFAULTS.market_tuple(), sender=deployer
    )

    with pytest.raises(DeploymentError) as err:
        check_wiring(dataclasses.replace(d, market=stray))

    message = str(err.value)
    assert "NodeRegistry.jobMarket()" in message and "Rewards.jobMarket()" in message
    assert "JobMarket.token()" not in message  # that link is right
    assert isinstance(err.value, ConfigError)


def test_check_wiring__swapped_contract__raises(deployed):
    with pytest.raises(DeploymentError, match="TESToken.minter"):
        check_wiring(dataclasses.replace(deployed, rewards=deployed.registry))


def test_save_and_load_record__round_trip(project, deployed, tmp_path):
    path = save_record("ethereum:local:test", deployed, tmp_path / "local.json", abis=True)

    raw = json.loads(path.read_text())
    assert raw["contracts"]["JobMarket"] == deployed.market.address
    assert raw["chainId"] == deployed.chain_id and raw["block"] == deployed.block_number
    assert raw["deployer"] == deployed.deployer
    assert {a["name"] for a in raw["abis"]["JobMarket"] if a.get("type") == "function"} >= {
        "createJob"
    }
    record = load_record("ethereum:local:test", path)
    assert record.contracts == deployed.addresses()
    again = attach(project, record)
    assert again.market.address == deployed.market.address
    assert again.addresses() == deployed.addresses()


def test_record_path__per_network_under_deployments():
    assert str(record_path("sepolia")) == "deployments/sepolia.json"
    assert str(record_path("ethereum:local:foundry")) == "deployments/ethereum-local-foundry.json"


def test_load_record__missing_or_incomplete__raises(deployed, tmp_path):
    with pytest.raises(DeploymentError, match="no deployment record"):
        load_record("nowhere", tmp_path / "nowhere.json")
    path = save_record("local", deployed, tmp_path / "local.json")
    raw = json.loads(path.read_text())
    del raw["contracts"]["Rewards"]
    path.write_text(json.dumps(raw))
    with pytest.raises(DeploymentError, match="incomplete"):
        load_record("local", path)


def test_attach__record_of_another_chain__raises(project, deployed, tmp_path):
    record = load_record("local", save_record("local", deployed, tmp_path / "local.json"))

    with pytest.raises(DeploymentError, match="chain"):
        attach(project, dataclasses.replace(record, chain_id=record.chain_id + 1))


def test_deployment__is_a_dataclass_of_five_contracts():
    names = [f.name for f in dataclasses.fields(Deployment)][:5]
    assert names == ["token", "licence", "registry", "rewards", "market"]
