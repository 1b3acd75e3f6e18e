"""What `tes-node status` shows: the operator's licences read from the chain (`chain_status`),
the local database with its secrets hidden (`redacted`), and the table a person reads
(`print_status`).
"""

from __future__ import annotations

import json
from typing import Any

from oracle.core.errors import ConfigError
from oracle.core.protocol import job_hex
from oracle.core.units import format_tes as tes
from oracle.node.cli_chain import connect_checked, served_licences
from oracle.node.store import IntentStatus, Stage


def _operator_address(account: str) -> str | None:
    """The address of ape account `account`, from its keystore (no passphrase needed)."""
    from oracle.core.chain import ape_data_folder

    path = ape_data_folder() / "accounts" / f"{account}.json"
    try:
        address = json.loads(path.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None
    from eth_utils import to_checksum_address

    return str(to_checksum_address(address))


def chain_status(s) -> dict[str, Any]:
    """Per licence of this operator, from the chain: status, stake, locked collateral, unbonding,
    job counters, claimable rewards, rewards claimed, job earnings (every `EarningsCredited` to
    the licence's ledger, what of it is still unwithdrawn, and the fees kept as work not yet
    pushed to Rewards), and the endpoint last announced; and the market's price floor. One call
    per value, and one eth_getLogs per event kind for all licences."""
    chain = connect_checked(s)
    operator = _operator_address(s.account)
    if operator is None and not s.node_ids:
        raise ConfigError(
            f"no ape account {s.account!r} to find this node's licences by: pass --account <alias>"
            " or --node-id <id>"
        )
    if s.node_ids:
        from oracle.core.protocol import NodeRecord

        reg = chain.registry
        records = {i: NodeRecord.from_raw(reg.functions.node(i).call()) for i in s.node_ids}
    else:
        records, _ = served_licences(chain, operator or "", [])
    reg, rewards, market = chain.registry, chain.rewards, chain.market
    ids = sorted(records)
    start = chain.deployment_block
    endpoints: dict[int, str] = {}
    claimed: dict[int, int] = dict.fromkeys(ids, 0)
    earned: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        for entry in reg.events.EndpointAnnounced.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            endpoints[int(entry["args"]["nodeId"])] = entry["args"]["url"]  # the last one wins
        for entry in rewards.events.RewardsClaimed.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            claimed[int(entry["args"]["nodeId"])] += int(entry["args"]["amount"])
        for entry in market.events.EarningsCredited.get_logs(
            from_block=start, argument_filters={"nodeId": ids}
        ):
            earned[int(entry["args"]["nodeId"])] += int(entry["args"]["amount"])
    owners = {i: reg.functions.ownerOfNode(i).call() for i in ids}
    licences = []
    for i in ids:
        n = records[i]
        ledger = market.functions.ledger(i).call()  # (earned, work, workEpoch)
        licences.append(
            {
                "node_id": i,
                "owner": owners[i],
                "operator": n.operator,
                "status": n.status.name.lower(),
                "stake": n.stake,
                "locked": n.locked,
                "free": n.free_stake,
                "unbonding": n.unbonding,
                "unbonding_release_at": n.unbondingReleaseAt,
                "completed": n.completed,
                "failed": n.failed,
                "slashed": n.slashed,
                "earned_jobs": earned[i],
                "unwithdrawn_earnings": int(ledger[0]),
                "pending_work": int(ledger[1]),
                "pending_work_epoch": int(ledger[2]),
                "claimable_rewards": rewards.functions.claimable(i).call(),
                "claimed_rewards": claimed[i],
                "endpoint": endpoints.get(i),
            }
        )
    params = market.functions.parameters().call()
    names = [o["name"] for o in _outputs(market, "parameters")]
    return {
        "chain_id": chain.chain_id,
        "operator": operator,
        "licences": licences,
        "market": dict(zip(names, params, strict=False)) if names else {},
        "min_stake": reg.functions.minStake().call(),
    }


def _outputs(contract, fn: str) -> list[dict[str, Any]]:
    for item in contract.abi:
        if item.get("type") == "function" and item.get("name") == fn:
            outs = item.get("outputs", [])
            if len(outs) == 1 and outs[0].get("components"):
                return outs[0]["components"]
            return outs
    return []


def _work_epoch(lic: dict[str, Any]) -> str:
    if not lic["pending_work"]:
        return ""
    return (
        f" (epoch {lic['pending_work_epoch']}; sent at the node's first settlement in a later"
        " epoch, or by `ape run claim-rewards`)"
    )


def _utc(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def print_status(out: dict[str, Any], has_db: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if "licences" in out:
        console.print(f"operator {out['operator'] or '-'} on chain {out['chain_id']}")
        for lic in out["licences"]:
            unbonding = ""
            if lic["unbonding"]:
                unbonding = (
                    f", {tes(lic['unbonding'])} unbonding until {_utc(lic['unbonding_release_at'])}"
                )
            console.print(
                f"licence {lic['node_id']}: {lic['status']} (owner {lic['owner']})\n"
                f"  stake {tes(lic['stake'])}: {tes(lic['locked'])} locked as collateral,"
                f" {tes(lic['free'])} free{unbonding}\n"
                f"  jobs completed {lic['completed']}, failed {lic['failed']}, slashed"
                f" {lic['slashed']}; earned from jobs {tes(lic['earned_jobs'])}, of which"
                f" {tes(lic['unwithdrawn_earnings'])} not withdrawn yet\n"
                f"  work (fees) not yet pushed to Rewards {tes(lic['pending_work'])}"
                f"{_work_epoch(lic)}\n"
                f"  rewards: claimable {tes(lic['claimable_rewards'])}, claimed"
                f" {tes(lic['claimed_rewards'])}\n"
                f"  endpoint {lic['endpoint'] or '(none announced yet)'}",
                highlight=False,
            )
        if not out["licences"]:
            console.print("no licence has this key as its operator")
        m = out.get("market", {})
        floor = ""
        if "minJobFee" in m:
            floor = f"; market: min job fee {tes(m['minJobFee'])}"
        if "minCollateralBps" in m:
            floor += f", min collateral {m['minCollateralBps'] / 100:g}% of the payment"
        console.print(f"min stake {tes(out['min_stake'])}{floor}")
    elif out.get("chain_error"):
        console.print(f"chain: not read ({out['chain_error']})")
    p = out["pricing"]
    console.print(
        f"pricing in force: min_margin {p['min_margin']:g}, compute_price_per_cpu_s"
        f" {p['compute_price_per_cpu_s']} wei, gas_limit_estimate {p['gas_limit_estimate']:,}"
    )
    if not has_db:
        console.print("no node database here yet (pass --data-dir where `tes-node run` ran)")
        return
    console.print(
        f"cursor: block {out['cursor'][0] if out['cursor'] else '-'}   gas spent: {out['gas_spent']:,}"
    )
    console.print(
        "jobs by stage: " + ", ".join(f"{k}={v}" for k, v in out["jobs_by_stage"].items())
    )
    table = Table("job", "node", "stage", "payment", "result", "reason")
    for j in out["jobs"]:
        table.add_row(
            str(j["job_id"]),
            str(j["node_id"] or "-"),
            j["stage"],
            tes(int(j["payment"])) if j.get("payment") else "-",
            (j["result_hash"] or "")[:16],
            j["reason"] or "",
        )
    console.print(table)


# Stages at which our result hash is public or can no longer be copied for pay: the round is
# revealing (our reveal queued, every commitment already in) or the job has ended with our seat.
_RESULT_PUBLIC = (Stage.REVEALED, Stage.DONE)
OPEN_INTENTS = (IntentStatus.PENDING, IntentStatus.SENT, IntentStatus.MINED)


def redacted(row: dict) -> dict:
    """A salt opens a commitment, and before the reveal the result hash alone is enough to copy: a
    lazy replica, or a dispute's juror, commits to it without running the job. Status output gets
    pasted into tickets and logs, so salts (in jobs and in reveal payloads) never appear in it,
    and a result hash only once it is public (`_RESULT_PUBLIC`)."""
    if row.get("job_id") is not None:  # 256 bits: hex text, as every CLI prints ids
        row["job_id"] = job_hex(row["job_id"])
    if row.get("salt"):
        row["salt"] = "<hidden>"
    if row.get("result_hash") and "stage" in row and row["stage"] not in _RESULT_PUBLIC:
        row["result_hash"] = "<hidden>"
    payload = row.get("payload")
    if isinstance(payload, dict):
        row["payload"] = {
            k: "<hidden>" if k in ("salt", "result") else v for k, v in payload.items()
        }
    return row
