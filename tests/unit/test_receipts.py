"""Waiting for a receipt (oracle/core/chain.py `wait_for_receipt`): asked at once, then after
doubling waits, so a transaction mined in milliseconds costs no fixed poll interval and one mined
after seconds costs a few requests, not one per 0.1 s."""

import time
from types import SimpleNamespace

import pytest
from web3.exceptions import TimeExhausted, TransactionNotFound

from oracle.core.chain import wait_for_receipt


class Eth:
    def __init__(self, mined_after_s: float):
        self.mined_at = time.monotonic() + mined_after_s
        self.asked = 0

    def get_transaction_receipt(self, tx_hash):
        self.asked += 1
        if time.monotonic() < self.mined_at:
            raise TransactionNotFound(tx_hash)
        return {"status": 1, "transactionHash": tx_hash}


def test_mined_already__one_request_no_wait():
    eth = Eth(0.0)
    t = time.monotonic()
    assert wait_for_receipt(SimpleNamespace(eth=eth), "0xab", 5)["status"] == 1  # type: ignore[arg-type]
    assert eth.asked == 1 and time.monotonic() - t < 0.05


def test_mined_in_milliseconds__seen_within_tens_of_milliseconds():
    eth = Eth(0.03)
    t = time.monotonic()
    wait_for_receipt(SimpleNamespace(eth=eth), "0xab", 5)  # type: ignore[arg-type]
    assert time.monotonic() - t < 0.12 and eth.asked <= 4


def test_mined_after_seconds__few_requests():
    eth = Eth(2.0)
    wait_for_receipt(SimpleNamespace(eth=eth), "0xab", 5, longest_s=0.5)  # type: ignore[arg-type]
    # 0.02, 0.04, ... 0.32, then 0.5 s apart: about 10, where a 0.1 s poll asks 20 times.
    assert eth.asked <= 12


def test_never_mined__time_exhausted_after_the_timeout():
    eth = Eth(60.0)
    t = time.monotonic()
    with pytest.raises(TimeExhausted, match="0xab"):
        wait_for_receipt(SimpleNamespace(eth=eth), "0xab", 0.3)  # type: ignore[arg-type]
    assert 0.3 <= time.monotonic() - t < 0.6


def test_sent_now__first_asked_after_the_first_wait():
    eth = Eth(0.01)
    wait_for_receipt(SimpleNamespace(eth=eth), "0xab", 5, sent_now=True)  # type: ignore[arg-type]
    assert eth.asked == 1


def test_calldata__the_bytes_web3_would_send__structs_arrays_and_bytes_included():
    """`calldata` (one eth_abi encode) is what web3's contract functions encode, for the calls the
    client sends: nested structs (a JobRequest with its requirements, a quote, a permit), dynamic
    bytes and strings, addresses, arrays."""
    from web3 import Web3

    from oracle.core.chain import calldata, load_abis
    from oracle.core.protocol import Capabilities, JobTerms

    abis = load_abis({})
    w3 = Web3()
    market = w3.eth.contract(address="0x" + "11" * 20, abi=abis["JobMarket"])
    token = w3.eth.contract(address="0x" + "22" * 20, abi=abis["TESToken"])
    request = (b"\x33" * 32, "http://b.example/x.tar.gz", (2, 512, 0, 0, 0), 5 * 10**18, 10**18,
               1, 600, 7_200, 1_800, 3_600)  # fmt: skip
    quote = (7, 1_700_000_600, b"\x44" * 65)
    permit = (1_700_003_600, 27, b"\x55" * 32, b"\x66" * 32)
    terms = [
        JobTerms("0x" + "77" * 20, b"\x33" * 32, 5 * 10**18 + n, 10**18, 1, 1_700_000_600, 500,
                 100, Capabilities(2, 512, 0, 0, 0), 600, 7_200, 1_800, 3_600, n).as_tuple()
        for n in (1, 2, 2**64 - 1)
    ]  # fmt: skip
    calls = [
        market.functions.createAndAssign(request, quote, permit),
        market.functions.createJob(request),
        market.functions.createJobWithPermit(request, *permit),
        market.functions.settleAndWithdraw(terms),
        market.functions.dispute(terms[0]),
        market.functions.claim(terms[1], 9),
        token.functions.approve(Web3.to_checksum_address("0x" + "ab" * 20), 2**96 - 1),
    ]
    for fn in calls:
        assert calldata(fn) == bytes.fromhex(fn._encode_transaction_data()[2:]), fn.fn_name
