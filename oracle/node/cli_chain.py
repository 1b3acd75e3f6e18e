"""`tes-node`'s checks of the chain before anything starts (`run`, `status`): the deployment
record, the RPC endpoint, the contracts, and the licences the operator key serves. Each failure
is a ConfigError saying what to do (oracle/node/cli.py prints it as one `Error: ...` line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from oracle.core.errors import ConfigError

# Exceptions that mean "the RPC endpoint is not there" (requests' and the stdlib's).
try:
    from requests.exceptions import ConnectionError as _ReqConnectionError
    from requests.exceptions import Timeout as _ReqTimeout

    RPC_DOWN: tuple[type[BaseException], ...] = (
        _ReqConnectionError,
        _ReqTimeout,
        ConnectionError,
        TimeoutError,
    )
except ImportError:  # pragma: no cover - web3 depends on requests
    RPC_DOWN = (ConnectionError, TimeoutError)


def connect_checked(s) -> Any:
    """The node's chain access, checked before anything else starts: the deployment record is
    there and readable, the RPC answers, it is the record's chain, and the contracts exist there.
    Each failure is a ConfigError saying what to do."""
    from oracle.core.chain import Chain

    path = Path(s.deployment)
    if not path.is_file():
        raise ConfigError(
            f"no deployment record at {path}: pass --deployment (or TES_DEPLOYMENT) with the"
            " file `ape run deploy` wrote (deployments/<network>.json)"
        )
    try:
        record = json.loads(path.read_text())
        contracts = record["contracts"]
        registry = contracts["NodeRegistry"]
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise ConfigError(
            f"{path} is not a deployment record ({type(err).__name__}: {err}): use the file"
            " `ape run deploy` wrote"
        ) from None
    chain = Chain.connect(s.rpc_url, path, timeout_s=10.0)
    try:
        chain_id = chain.chain_id
        code = chain.w3.eth.get_code(chain.w3.to_checksum_address(registry))
    except RPC_DOWN as err:
        raise ConfigError(
            f"cannot reach the chain at {s.rpc_url} ({type(err).__name__}): is the chain node"
            " running and the URL right? Pass --rpc-url, or set rpc_url in the config /"
            " TES_RPC_URL"
        ) from None
    except Exception as err:  # noqa: BLE001 - an HTTP server that is no JSON-RPC endpoint
        raise ConfigError(
            f"{s.rpc_url} does not answer as an Ethereum JSON-RPC endpoint"
            f" ({type(err).__name__}: {err}): check --rpc-url"
        ) from None
    want = record.get("chainId", record.get("chain_id"))
    if want is not None and int(want) != chain_id:
        raise ConfigError(
            f"{path} records a deployment on chain {want}, but {s.rpc_url} is chain {chain_id}:"
            " pass the record of this chain, or the RPC of that one"
        )
    if not code:
        raise ConfigError(
            f"the contracts of {path} do not exist on chain {chain_id} at {s.rpc_url} (the chain"
            " was reset since it was written?): deploy again with `ape run deploy`"
        )
    return chain


def served_licences(chain, operator: str, node_ids: list[int]) -> tuple[dict[int, Any], list[int]]:
    """({node id: NodeRecord} of the licences `operator` is the operator of, [named licences
    proposing `operator`, which the node will accept]). Without `node_ids` the candidates are
    the licences an OperatorBound event ever named this key for (one eth_getLogs)."""
    from oracle.core.protocol import NodeRecord

    reg = chain.registry
    if node_ids:
        candidates = sorted(set(node_ids))
    else:
        logs = reg.events.OperatorBound.get_logs(
            from_block=chain.deployment_block, argument_filters={"operator": operator}
        )
        candidates = sorted({int(entry["args"]["nodeId"]) for entry in logs})
    records = {i: NodeRecord.from_raw(reg.functions.node(i).call()) for i in candidates}
    mine = {i: n for i, n in records.items() if n.operator.lower() == operator.lower()}
    pending = [
        i
        for i in node_ids
        if i not in mine and reg.functions.pendingOperatorOf(i).call().lower() == operator.lower()
    ]
    return mine, pending


def check_serves_something(chain, operator: str, node_ids: list[int]) -> dict[int, Any]:
    """The licences the node will serve; a ConfigError naming the key (and the fix) when it
    would serve none, and a warning per licence that is not active."""
    from oracle.core.protocol import NodeStatus

    mine, pending = served_licences(chain, operator, node_ids)
    if not mine and not pending:
        named = f" (named: {', '.join(map(str, node_ids))})" if node_ids else ""
        raise ConfigError(
            f"the operator key {operator} serves no licence{named}: no licence has it as its"
            " operator or proposes it. The licence owner runs `ape run setup-node --node-id <id>"
            f" --operator {operator}`, then this key accepts with `ape run accept-operator"
            " --node-id <id>` (or start tes-node with --node-id <id> to accept it)"
        )
    for i, n in sorted(mine.items()):
        if n.status != NodeStatus.ACTIVE:
            click.echo(
                f"warning: licence {i} is {n.status.name.lower()}: it gets no jobs until its owner"
                f" runs `ape run rejoin --node-id {i}`",
                err=True,
            )
    for i in pending:
        click.echo(f"licence {i} proposes this key: the node accepts it", err=True)
    return mine
