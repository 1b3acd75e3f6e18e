"""Connection to the chain: web3, the deployed contracts and the operator key.

The key is read from an ape keystore (an encrypted Ethereum keyfile under
`$APE_DATA_FOLDER/accounts/<alias>.json`, default `~/.ape`) and decrypted in memory; it is never
logged, written or passed on a command line.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, get_abi_input_types
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import TimeExhausted, TransactionNotFound

from oracle.core.errors import ConfigError

CONTRACTS = ("TESToken", "NodeLicense", "NodeRegistry", "Rewards", "JobMarket")
_BUILD_MANIFEST = Path(".build/__local__.json")


def ape_data_folder() -> Path:
    return Path(os.environ.get("APE_DATA_FOLDER", Path.home() / ".ape"))


def load_operator_key(alias: str, passphrase: str) -> LocalAccount:
    path = ape_data_folder() / "accounts" / f"{alias}.json"
    if not path.exists():
        raise ConfigError(
            f"no ape account {alias!r} (looked for {path}); create it with `ape accounts import {alias}`"
        )
    try:
        key = Account.decrypt(json.loads(path.read_text()), passphrase)
    except ValueError as err:
        raise ConfigError(f"cannot unlock ape account {alias!r}: wrong passphrase?") from err
    return Account.from_key(key)


def load_abis(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """ABIs from the deployment record, else from the project's compiled artifacts."""
    if "abis" in record:
        return record["abis"]
    if not _BUILD_MANIFEST.exists():
        raise ConfigError(
            "deployment record has no ABIs and no .build/ artifacts: run `ape compile`"
        )
    types = json.loads(_BUILD_MANIFEST.read_text())["contractTypes"]
    return {name: types[name]["abi"] for name in CONTRACTS}


def wait_for_receipt(
    w3: Web3,
    tx_hash: Any,
    timeout_s: float,
    first_s: float = 0.02,
    longest_s: float = 1.0,
    sent_now: bool = False,
) -> Any:
    """The transaction's receipt, asked for at once (after `first_s` if it was `sent_now`: it is
    not mined yet) and then after waits that double from `first_s` up to `longest_s`; web3's
    TimeExhausted after `timeout_s`.

    Why not web3's fixed `poll_latency`: a transaction is usually mined either within
    milliseconds (a local or fast chain) or after seconds (a block interval). A fixed 0.1-0.2 s
    poll adds that much to every transaction on the first, and a shorter one multiplies the
    requests on the second; doubling waits cost a few requests for either."""
    deadline = time.monotonic() + timeout_s
    wait = first_s
    if sent_now:
        time.sleep(min(first_s, timeout_s))
    while True:
        try:
            return w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            shown = tx_hash if isinstance(tx_hash, str) else Web3.to_hex(tx_hash)
            raise TimeExhausted(f"transaction {shown} not mined after {timeout_s:g} s")
        time.sleep(min(wait, left))
        wait = min(wait * 2, longest_s)


class TxStatus(IntEnum):
    """A transaction receipt's `status` (EIP-658)."""

    REVERTED = 0
    SUCCESS = 1


@dataclass
class Chain:
    w3: Web3
    record: dict[str, Any]

    @classmethod
    def connect(cls, rpc_url: str, deployment: Path, timeout_s: float = 10.0) -> Chain:
        if not deployment.exists():
            raise ConfigError(f"no deployment record at {deployment}: run `ape run deploy` first")
        record = json.loads(deployment.read_text())
        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        # web3 v7's 'validation' middleware asks the node for eth_chainId before every call, estimate
        # and send (~55 requests per job, the busiest RPC method). The chain id cannot change under a
        # connection, so we read it once (`chain_id`, cached) and pass it explicitly on every
        # transaction we build; signing binds it into the tx (EIP-155), so a wrong chain still fails.
        w3.middleware_onion.remove("validation")
        return cls(w3, record)

    @cached_property
    def abis(self) -> dict[str, list[dict[str, Any]]]:
        return load_abis(self.record)

    def contract(self, name: str) -> Contract:
        address = self.record["contracts"][name]
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.abis[name])

    @cached_property
    def market(self) -> Contract:
        return self.contract("JobMarket")

    @cached_property
    def registry(self) -> Contract:
        return self.contract("NodeRegistry")

    @cached_property
    def rewards(self) -> Contract:
        return self.contract("Rewards")

    @cached_property
    def token(self) -> Contract:
        return self.contract("TESToken")

    @cached_property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @property
    def deployment_block(self) -> int:
        return int(self.record.get("block_number", self.record.get("block", 0)))


def calldata(fn: Any) -> bytes:
    """A bound contract call's calldata (selector and ABI-encoded arguments), encoded once with
    eth_abi: web3's own encoding looks the function up in the ABI again and formats every value
    on each `estimate_gas` and `build_transaction`, about 10 ms a call, which a burst of
    transactions pays twice per job."""
    abi = fn.abi
    types = get_abi_input_types(abi)
    return function_abi_to_4byte_selector(abi) + encode(types, list(fn.args))


def eip1559_fees(base_fee: int, tip: int) -> dict[str, int]:
    """The fees every sender here offers (client, node, the bench's node-style sends): twice the
    head's base fee plus the tip, room for the base fee to rise for a few blocks; no tip on a
    chain without a base fee. The node caps it (oracle/node/fees.py)."""
    tip = max(tip, 0) if base_fee else 0
    return {"maxFeePerGas": 2 * base_fee + tip + 1, "maxPriorityFeePerGas": tip}


class RawTxRefused(Exception):
    """The endpoint refused one transaction of a batch; its JSON-RPC error."""

    def __init__(self, error: Any):
        self.error = error
        message = error.get("message", error) if isinstance(error, dict) else error
        super().__init__(str(message))


def send_raw_batch(w3: Web3, raws: list[bytes]) -> list[bytes | RawTxRefused] | None:
    """Signed transactions sent in one JSON-RPC batch (one round trip instead of one each): per
    transaction its hash, or the endpoint's refusal of it. None when the endpoint does not take
    batches (it answered with one error for the whole request, or its provider has none); the
    caller then sends one at a time. A transport failure raises, as a single send would."""
    batch = getattr(w3.provider, "make_batch_request", None)
    if batch is None or not raws:
        return None
    try:
        answers = batch([("eth_sendRawTransaction", [Web3.to_hex(raw)]) for raw in raws])
    except NotImplementedError:
        return None
    if not isinstance(answers, list) or len(answers) != len(raws):
        return None
    return [
        bytes.fromhex(str(a["result"]).removeprefix("0x"))
        if a.get("error") is None and a.get("result")
        else RawTxRefused(a.get("error") or "no result")
        for a in answers
    ]
