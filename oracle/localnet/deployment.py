"""Deploy and wire the five TES contracts, check the wiring, and keep a record per network.

The default parameters live here (tests/utils/constants.py re-exports them), so a script, the
test fixtures and a real deployment start from the same numbers. Constructor arguments and their
order follow tests/conftest.py.

    d = deploy_all(project, deployer, treasury)      # 10 transactions, then check_wiring(d)
    save_record("sepolia", d)                         # deployments/sepolia.json
    d = attach(project, load_record("sepolia"))      # contract instances again
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle.core.errors import ConfigError
from oracle.core.protocol import MARKET_PARAMETER_FIELDS

# ------------------------------------------------------------------ default parameters
DAY = 86_400
E18 = 10**18

TOKEN_CAP = 1_000_000_000 * E18
GENESIS_SUPPLY = 400_000_000 * E18
MIN_STAKE = 1_000 * E18
UNBONDING_DELAY = 7 * DAY
JAIL_PERIOD = 1 * DAY
EPOCH_LENGTH = 1 * DAY
INITIAL_EMISSION = 100_000 * E18
HALVING_EPOCHS = 365
# In the order of IJobMarket.Parameters (the constructor takes it as a tuple).
MARKET_PARAMETERS = dict(
    protocolFeeBps=500,
    keeperBountyBps=100,
    minCollateralBps=1_000,
    disputeReplicas=3,
    minJobFee=1 * E18,
    acceptWindow=600,  # seconds a drawn node has to accept its seat
)
TIER_PRICE = 10**17  # 0.1 ETH
TIER_SUPPLY = 1_000

# ------------------------------------------------------------------ job defaults
# What a client asks for when it does not say otherwise (scripts, benchmarks, tests).
DEFAULT_CAPS = (8, 16_384, 1, 24_576, 2)  # cpuCores, memoryMb, gpuCount, gpuMemoryMb, gpuClass
NO_REQUIREMENTS = (1, 512, 0, 0, 0)
JOB_PAYMENT = 100 * E18
JOB_COLLATERAL = 20 * E18
WINDOWS = dict(claimWindow=3_600, executionWindow=7_200, revealWindow=1_800, disputeWindow=3_600)

CONTRACT_NAMES = ("TESToken", "NodeLicense", "NodeRegistry", "Rewards", "JobMarket")
_FIELDS = ("token", "licence", "registry", "rewards", "market")  # Deployment's, same order
RECORD_DIR = Path("deployments")


class DeploymentError(ConfigError):
    """A deployment is incomplete, mis-wired, or its record does not fit."""


@dataclass(frozen=True)
class DeploymentParams:
    """Everything the constructors and the first licence tier take. Override with
    `dataclasses.replace(DEFAULTS, min_stake=...)`."""

    token_cap: int = TOKEN_CAP
    genesis_supply: int = GENESIS_SUPPLY
    tier_price: int = TIER_PRICE
    tier_supply: int = TIER_SUPPLY
    tier_per_wallet_cap: int = 0
    tier_sale_start: int = 0
    tier_sale_end: int = 0
    min_stake: int = MIN_STAKE
    unbonding_delay: int = UNBONDING_DELAY
    jail_period: int = JAIL_PERIOD
    epoch_length: int = EPOCH_LENGTH
    genesis_time: int | None = None  # None: the timestamp of the Rewards deployment block
    initial_emission: int = INITIAL_EMISSION
    halving_epochs: int = HALVING_EPOCHS
    market: dict[str, int] = field(default_factory=lambda: dict(MARKET_PARAMETERS))

    def market_tuple(self) -> tuple[int, ...]:
        """`IJobMarket.Parameters` as the constructor takes it (field order, not dict order)."""
        missing = [name for name in MARKET_PARAMETER_FIELDS if name not in self.market]
        if missing:
            raise DeploymentError(f"market parameters missing: {', '.join(missing)}")
        return tuple(self.market[name] for name in MARKET_PARAMETER_FIELDS)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in dataclasses.asdict(self).items():
            if isinstance(value, dict):
                out[name] = {k: _json_int(v) for k, v in value.items()}
            else:
                out[name] = _json_int(value)
        return out


DEFAULTS = DeploymentParams()


@dataclass
class Deployment:
    """The five wired contracts (ape ContractInstances) and where they came from."""

    token: Any
    licence: Any
    registry: Any
    rewards: Any
    market: Any
    deployer: str = ""
    chain_id: int = 0
    block_number: int = 0  # block of the first deployment transaction
    params: DeploymentParams | None = None

    def addresses(self) -> dict[str, str]:
        return {
            name: str(c.address) for name, c in zip(CONTRACT_NAMES, _contracts(self), strict=True)
        }


@dataclass(frozen=True)
class DeploymentRecord:
    """What a deployment record file holds."""

    network: str
    chain_id: int
    block_number: int
    deployer: str
    contracts: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------ deploy and check
def deploy_all(
    project: Any, deployer: Any, treasury: Any, *, params: DeploymentParams = DEFAULTS
) -> Deployment:
    """Deploys TESToken, NodeLicense (with tier 0), NodeRegistry, Rewards and JobMarket from
    `deployer` (also their governance owner), wires them, and checks the wiring."""
    from ape import chain

    token = project.TESToken.deploy(
        treasury, params.token_cap, params.genesis_supply, sender=deployer
    )
    first_block = chain.blocks.height
    licence = project.NodeLicense.deploy(deployer, treasury, sender=deployer)
    licence.addTier(
        params.tier_price,
        params.tier_supply,
        params.tier_per_wallet_cap,
        params.tier_sale_start,
        params.tier_sale_end,
        sender=deployer,
    )
    registry = project.NodeRegistry.deploy(
        deployer,
        token,
        licence,
        params.min_stake,
        params.unbonding_delay,
        params.jail_period,
        sender=deployer,
    )
    licence.setRegistry(registry, sender=deployer)
    genesis = params.genesis_time if params.genesis_time is not None else chain.pending_timestamp
    rewards = project.Rewards.deploy(
        deployer,
        token,
        registry,
        params.epoch_length,
        genesis,
        params.initial_emission,
        params.halving_epochs,
        sender=deployer,
    )
    token.setMinter(rewards, sender=deployer)
    market = project.JobMarket.deploy(
        deployer, token, registry, rewards, params.market_tuple(), sender=deployer
    )
    registry.setJobMarket(market, sender=deployer)
    rewards.setJobMarket(market, sender=deployer)

    d = Deployment(
        token=token,
        licence=licence,
        registry=registry,
        rewards=rewards,
        market=market,
        deployer=str(deployer.address),
        chain_id=chain.chain_id,
        block_number=first_block,
        params=dataclasses.replace(params, genesis_time=genesis),
    )
    check_wiring(d)
    return d


def check_wiring(d: Deployment) -> None:
    """Reads every cross-reference back from the chain; raises DeploymentError listing all that
    are wrong (e.g. a deployment that stopped half-way)."""
    addr = d.addresses()
    # (Deployment field, view, the contract it must name, how to fix it)
    expected = [
        ("licence", "registry", "NodeRegistry", "licence.setRegistry"),
        ("token", "minter", "Rewards", "token.setMinter"),
        ("registry", "jobMarket", "JobMarket", "registry.setJobMarket"),
        ("registry", "token", "TESToken", "redeploy NodeRegistry"),
        ("registry", "licence", "NodeLicense", "redeploy NodeRegistry"),
        ("rewards", "jobMarket", "JobMarket", "rewards.setJobMarket"),
        ("rewards", "token", "TESToken", "redeploy Rewards"),
        ("rewards", "registry", "NodeRegistry", "redeploy Rewards"),
        ("market", "token", "TESToken", "redeploy JobMarket"),
        ("market", "registry", "NodeRegistry", "redeploy JobMarket"),
        ("market", "rewards", "Rewards", "redeploy JobMarket"),
    ]
    names = dict(zip(_FIELDS, CONTRACT_NAMES, strict=True))
    problems = []
    for field_name, view_name, want, fix in expected:
        view = f"{names[field_name]}.{view_name}()"
        try:
            got = str(getattr(getattr(d, field_name), view_name)())
        except Exception as err:  # noqa: BLE001 - any failure to read is a wiring problem
            problems.append(f"{view} could not be read ({type(err).__name__}: {err})")
            continue
        if got.lower() != addr[want].lower():
            problems.append(f"{view} is {got}, expected {want} {addr[want]} (fix: {fix})")
    try:
        tiers = d.licence.tierCount()
    except Exception as err:  # noqa: BLE001
        problems.append(f"NodeLicense.tierCount() could not be read ({type(err).__name__}: {err})")
    else:
        if tiers == 0:
            problems.append("NodeLicense has no sale tier (fix: licence.addTier(...))")
    if problems:
        raise DeploymentError("deployment is not wired:\n  - " + "\n  - ".join(problems))


# ------------------------------------------------------------------ records
def record_path(network_name: str, directory: Path = RECORD_DIR) -> Path:
    """deployments/<network>.json; the ':' of an ape network choice becomes '-'."""
    return Path(directory) / f"{network_name.replace(':', '-')}.json"


def save_record(
    network_name: str, d: Deployment, path: Path | None = None, *, abis: bool = False
) -> Path:
    """Writes the deployment record (addresses, chain id, first block, deployer, parameters).
    With `abis`, the contracts' ABIs too, so a node needs no compiled project to read it."""
    path = Path(path) if path is not None else record_path(network_name)
    record: dict[str, Any] = {
        "network": network_name,
        "chainId": d.chain_id,
        "block": d.block_number,
        "deployer": d.deployer,
        "contracts": d.addresses(),
        "params": d.params.to_json() if d.params is not None else {},
    }
    if abis:
        record["abis"] = {
            name: [item.model_dump(mode="json", by_alias=True) for item in c.contract_type.abi]
            for name, c in zip(CONTRACT_NAMES, _contracts(d), strict=True)
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)  # never leave a half-written record behind
    return path


def load_record(network_name: str, path: Path | None = None) -> DeploymentRecord:
    """Reads a record written by `save_record`; raises DeploymentError if missing or incomplete."""
    path = Path(path) if path is not None else record_path(network_name)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DeploymentError(f"no deployment record for {network_name!r} at {path}") from err
    except json.JSONDecodeError as err:
        raise DeploymentError(f"deployment record {path} is not valid JSON: {err}") from err
    try:
        contracts = {name: raw["contracts"][name] for name in CONTRACT_NAMES}
        return DeploymentRecord(
            network=raw["network"],
            chain_id=int(raw["chainId"]),
            block_number=int(raw["block"]),
            deployer=raw["deployer"],
            contracts=contracts,
            params=raw.get("params", {}),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise DeploymentError(f"deployment record {path} is incomplete: {err!r}") from err


def attach(project: Any, record: DeploymentRecord, *, check: bool = True) -> Deployment:
    """Contract instances at a record's addresses (refuses a record made for another chain)."""
    from ape import chain

    if record.chain_id != chain.chain_id:
        raise DeploymentError(
            f"record for {record.network} is for chain {record.chain_id},"
            f" connected to chain {chain.chain_id}"
        )
    c = record.contracts
    d = Deployment(
        token=project.TESToken.at(c["TESToken"]),
        licence=project.NodeLicense.at(c["NodeLicense"]),
        registry=project.NodeRegistry.at(c["NodeRegistry"]),
        rewards=project.Rewards.at(c["Rewards"]),
        market=project.JobMarket.at(c["JobMarket"]),
        deployer=record.deployer,
        chain_id=record.chain_id,
        block_number=record.block_number,
    )
    if check:
        check_wiring(d)
    return d


def _contracts(d: Deployment) -> tuple[Any, ...]:
    return tuple(getattr(d, name) for name in _FIELDS)


def _json_int(value: Any) -> Any:
    # Token amounts (1e27) do not survive a JSON reader that uses doubles: write them as strings.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        return str(value)
    return value
