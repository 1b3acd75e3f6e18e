"""The chain side of the benchmark: anvil's own transaction ceiling, and a watcher that timestamps
the market's ResultAccepted / JobPaid events and keeps chain time moving."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, cast

from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint, TxParams

from oracle.core.chain import eip1559_fees, wait_for_receipt
from oracle.localnet.bench.common import BLOCK_CLOCK_S, r


# ------------------------------------------------------------------------------------ chain helpers
class Watcher(threading.Thread):
    """Watches the market for ResultAccepted / JobPaid (wall time of first sight, polled every
    50 ms) and mines an empty block every BLOCK_CLOCK_S."""

    def __init__(self, url: str, market_address: str, abi: list[dict], from_block: int):
        super().__init__(daemon=True, name="bench-watch")
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
        self.market = Web3.to_checksum_address(market_address)
        sigs = {}
        for item in abi:
            if item.get("type") == "event" and item["name"] in ("ResultAccepted", "JobPaid"):
                sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                sigs["0x" + Web3.keccak(text=sig).hex().removeprefix("0x")] = item["name"]
        assert len(sigs) == 2, "market ABI lacks ResultAccepted/JobPaid"
        self.topics = sigs
        self.next_block = from_block
        self.seen: dict[str, dict[int, float]] = {"ResultAccepted": {}, "JobPaid": {}}
        # (event, jobId) -> times seen: a job paid twice is a bug the bench must not hide
        self.count: Counter[tuple[str, int]] = Counter()
        self.stop_flag = threading.Event()
        self.error: BaseException | None = None
        # JSON-RPC requests this watcher made, by method (to tell them apart in anvil's log)
        self.requests: Counter[str] = Counter()

    def run(self) -> None:
        last_mine = time.monotonic()
        try:
            while not self.stop_flag.is_set():
                latest = self.w3.eth.block_number
                self.requests["eth_blockNumber"] += 1
                if latest >= self.next_block:
                    self.requests["eth_getLogs"] += 1
                    logs = self.w3.eth.get_logs(
                        {
                            "address": self.market,
                            "fromBlock": self.next_block,
                            "toBlock": latest,
                            "topics": [list(self.topics)],
                        }
                    )
                    now = time.monotonic()
                    for lg in logs:
                        name = self.topics["0x" + bytes(lg["topics"][0]).hex().removeprefix("0x")]
                        job_id = int.from_bytes(bytes(lg["topics"][1]), "big")
                        self.seen[name].setdefault(job_id, now)
                        self.count[(name, job_id)] += 1
                    self.next_block = latest + 1
                if time.monotonic() - last_mine >= BLOCK_CLOCK_S:
                    self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
                    self.requests["evm_mine"] += 1
                    last_mine = time.monotonic()
                self.stop_flag.wait(0.05)
        except BaseException as err:  # noqa: BLE001 (reported by the main thread)
            self.error = err

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(10)


def anvil_ceiling(url: str, key: str, to: str, n: int) -> dict[str, Any]:
    """Plain ETH transfers per second: node-style sequential, bare sequential, pipelined."""
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
    acct = Account.from_key(key)
    chain_id = w3.eth.chain_id
    out: dict[str, Any] = {"transfers": n}

    # (a) as oracle.node.submit.Submitter._send does it: nonce, fees, estimate, sign, send, receipt
    t0 = time.monotonic()
    for _ in range(n):
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        tip = w3.eth.max_priority_fee if base else 0
        fees = eip1559_fees(base, tip)
        tx = {
            "from": acct.address,
            "to": to,
            "value": 1,
            "nonce": nonce,
            "chainId": chain_id,
            **fees,
        }
        tx["gas"] = int(w3.eth.estimate_gas(cast(TxParams, tx)) * 1.3) + 20_000
        h = w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
        assert wait_for_receipt(w3, h, 30, sent_now=True)["status"] == 1
    out["sequential_node_style_per_s"] = r(n / (time.monotonic() - t0), 1)

    def transfer(nonce: int) -> dict[str, Any]:
        """A plain 1-wei transfer with its nonce and gas known in advance."""
        return {"to": to, "value": 1, "nonce": nonce, "chainId": chain_id, "gas": 21_000,
                "maxFeePerGas": 1, "maxPriorityFeePerGas": 0}  # fmt: skip

    # (b) bare sequential: pre-known nonce and gas, sign, send, wait for the receipt
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    t0 = time.monotonic()
    for i in range(n):
        h = w3.eth.send_raw_transaction(acct.sign_transaction(transfer(nonce + i)).raw_transaction)
        wait_for_receipt(w3, h, 30, sent_now=True)
    out["sequential_per_s"] = r(n / (time.monotonic() - t0), 1)

    # (c) pipelined: sign and send all, then collect every receipt
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    t0 = time.monotonic()
    hashes = []
    for i in range(n):
        hashes.append(
            w3.eth.send_raw_transaction(acct.sign_transaction(transfer(nonce + i)).raw_transaction)
        )
    for h in hashes:
        assert wait_for_receipt(w3, h, 60)["status"] == 1
    out["pipelined_per_s"] = r(n / (time.monotonic() - t0), 1)
    return out
