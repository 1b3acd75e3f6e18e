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
