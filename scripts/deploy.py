"""Deploy and wire the five TES contracts on any ape network, check the wiring, write the record.

    ape run deploy --network http://127.0.0.1:8545 --account TEST::0     # anvil you started
    ape run deploy --network ethereum:sepolia:alchemy --account deployer --treasury 0x...

The record goes to deployments/<network>.json (deployments/local.json for a chain on this
machine: ape's local networks, forks, anvil), with the ABIs, so `ape run buy-node` and the other
scripts, and `tes-node`, find the contracts. A live network's record is never overwritten
unless --force.
"""

import dataclasses
from pathlib import Path
from typing import Any

import click
from ape.cli import ConnectedProviderCommand, account_option, network_option

from oracle.ape_helpers import (
    ADDRESS,
    ETH,
    TES,
    Duration,
    ScriptError,
    Timestamp,
    deployment_option,
    deployment_path,
    explain_revert,
    format_duration,
    format_eth,
    format_tes,
    format_time,
    is_dev_network,
    record_name,
    signing_options,
)
from oracle.localnet.deployment import DEFAULTS, DeploymentError, deploy_all, save_record

D = DEFAULTS


@click.command(cls=ConnectedProviderCommand, short_help="Deploy and wire the TES contracts")
@network_option()
@account_option()
@deployment_option()
@click.option(
    "--treasury",
    type=ADDRESS,
    help="Receives the genesis TES and the licence sale proceeds (address or ape alias)."
    " Default on a local chain: the deploying account; required on a live network.",
)
@click.option(
    "--tier-price",
    type=ETH,
    default=str(D.tier_price) + " wei",
    show_default="0.1 ETH",
    help="Price of one licence in the first sale tier (ETH).",
)
@click.option(
    "--tier-supply",
    type=click.IntRange(1, 2**32 - 1),
    default=D.tier_supply,
    show_default=True,
    help="Licences the first tier can sell.",
)
@click.option(
    "--wallet-cap",
    type=click.IntRange(0, 2**32 - 1),
    default=D.tier_per_wallet_cap,
    show_default=True,
    help="Licences one wallet may buy in the first tier (0: no cap).",
)
@click.option(
    "--sale-start",
    type=Timestamp(),
    default="0",
    show_default=True,
    help="When the first tier opens: unix seconds or ISO 8601 (0: at once).",
)
@click.option(
    "--sale-end",
    type=Timestamp(),
    default="0",
    show_default=True,
    help="When the first tier closes (0: never).",
)
@click.option(
    "--min-stake",
    type=TES,
    default=str(D.min_stake) + " wei",
    show_default="1000 TES",
    help="Stake a node needs to be activated (TES).",
)
@click.option(
    "--unbonding-delay",
    type=Duration(),
    default=str(D.unbonding_delay),
    show_default="7d",
    help="How long unbonded stake waits (e.g. 7d, 12h, 3600).",
)
@click.option(
    "--jail-period",
    type=Duration(),
    default=str(D.jail_period),
    show_default="1d",
    help="How long a slashed node is jailed.",
)
@click.option(
    "--epoch-length",
    type=Duration(),
    default=str(D.epoch_length),
    show_default="1d",
    help="Length of a rewards epoch.",
)
@click.option(
    "--initial-emission",
    type=TES,
    default=str(D.initial_emission) + " wei",
    show_default="100000 TES",
    help="TES minted for the first epoch (halves over time).",
)
@click.option(
    "--halving-epochs",
    type=click.IntRange(1),
    default=D.halving_epochs,
    show_default=True,
    help="Epochs between two halvings of the emission.",
)
@click.option(
    "--genesis-supply",
    type=TES,
    default=str(D.genesis_supply) + " wei",
    show_default="400000000 TES",
    help="TES minted to the treasury at deployment.",
)
@click.option(
    "--protocol-fee-bps",
    type=click.IntRange(0, 10_000),
    default=D.market["protocolFeeBps"],
    show_default=True,
    help="Share of each paid job sent to the rewards pot (basis points).",
)
@click.option(
    "--min-job-fee",
    type=TES,
    default=str(D.market["minJobFee"]) + " wei",
    show_default="1 TES",
    help="Smallest payment a job may offer.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing record of a live network.")
@signing_options
def cli(
    provider: Any,
    account: Any,
    deployment: Path | None,
    treasury: str | None,
    tier_price: int,
    tier_supply: int,
    wallet_cap: int,
    sale_start: int,
    sale_end: int,
    min_stake: int,
    unbonding_delay: int,
    jail_period: int,
    epoch_length: int,
    initial_emission: int,
    halving_epochs: int,
    genesis_supply: int,
    protocol_fee_bps: int,
    min_job_fee: int,
    force: bool,
) -> None:
    """Deploys TESToken, NodeLicense (with one sale tier), NodeRegistry, Rewards and JobMarket
    from --account (also their governance owner), wires them, checks the wiring and writes the
    deployment record."""
    from ape import project

    live = not is_dev_network(provider)
    path = deployment_path(provider, deployment)
    if live and path.exists() and not force:
        raise ScriptError(
            f"{path} already records a deployment on {provider.network_choice}: pass --force to"
            " replace it (keep a copy: nodes and clients read it), or --deployment NEW.json"
        )
    if treasury is None:
        if live:
            raise ScriptError(
                "--treasury is required on a live network (it receives the genesis TES)"
            )
        treasury = str(account.address)
    if sale_end and sale_end <= sale_start:
        raise click.BadParameter("--sale-end must be after --sale-start", param_hint="--sale-end")
    if getattr(provider, "name", "") == "test" or getattr(provider, "process", None) is not None:
        click.echo(
            f"warning: ape started {provider.network_choice} for this command and stops it on exit,"
            " taking the contracts with it. For a chain that stays, start anvil yourself and pass"
            " --network http://127.0.0.1:8545.",
            err=True,
        )
    params = dataclasses.replace(
        D,
        genesis_supply=genesis_supply,
        tier_price=tier_price,
        tier_supply=tier_supply,
        tier_per_wallet_cap=wallet_cap,
        tier_sale_start=sale_start,
        tier_sale_end=sale_end,
        min_stake=min_stake,
        unbonding_delay=unbonding_delay,
        jail_period=jail_period,
        epoch_length=epoch_length,
        initial_emission=initial_emission,
        halving_epochs=halving_epochs,
        market={**D.market, "protocolFeeBps": protocol_fee_bps, "minJobFee": min_job_fee},
    )
    click.echo(
        f"Deploying TES on {provider.network_choice} (chain {provider.chain_id}) from {account.address}"
    )
    try:
        d = deploy_all(project, account, treasury, params=params)
    except DeploymentError as err:
        raise ScriptError(str(err)) from err
    except Exception as err:  # noqa: BLE001 - a half-done deployment: say so, with the cause
        raise ScriptError(
            f"deployment stopped half-way ({explain_revert(err)}). Nothing was recorded; the"
            " contracts already deployed are abandoned. Fix the cause and run the same command again."
        ) from err
    written = save_record(record_name(provider), d, path, abis=True)

    click.echo("Wiring checked: every cross-reference points at this deployment.")
    for name, address in d.addresses().items():
        click.echo(f"  {name:<13} {address}")
    window = (
        f", sale {format_time(sale_start) if sale_start else 'open now'}"
        f" - {format_time(sale_end) if sale_end else 'no end'}"
    )
    cap = f", at most {wallet_cap} per wallet" if wallet_cap else ""
    click.echo(f"  treasury      {treasury}")
    click.echo(f"Tier 0: {tier_supply:,} licences at {format_eth(tier_price)}{cap}{window}")
    click.echo(
        f"Minimum stake {format_tes(min_stake)}; epochs of {format_duration(epoch_length)};"
        f" first block {d.block_number}"
    )
    click.echo(f"Record: {written}")
    click.echo(
        f"Next: ape run buy-node --network {provider.network_choice} --account <buyer>"
        + (f" --deployment {written}" if deployment else "")
    )
