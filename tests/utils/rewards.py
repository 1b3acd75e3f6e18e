"""Rewards test helpers: the contract's arithmetic in Python; a constructor-revert check."""

import ast
from contextlib import contextmanager

import ape
from ape.exceptions import CustomError
from eth_abi import decode
from eth_utils import keccak

SCALE = 10**18
U128 = 2**128 - 1


def split(emission: int, income: int = 0, carry_in: int = 0, fees: int = 0) -> tuple[int, int]:
    """(availabilityPot, workPot): emission, unattributed income and the carry pay availability;
    the recorded protocol fees pay work."""
    return emission + income + carry_in, fees


def emission(epoch: int, initial: int, halving_epochs: int) -> int:
    """The schedule: `initial >> (epoch // halving_epochs)`, 0 past 255 halvings."""
    halvings = epoch // halving_epochs
    return 0 if halvings > 255 else initial >> halvings


def outcome(
    emission: int,
    *,
    income: int = 0,
    fees: int = 0,
    carry_in: int = 0,
    live_nodes: int = 0,
    total_work: int | None = None,
) -> dict:
    """What closing an epoch decides (mirrors `Rewards._outcome`). Work is the fees recorded, so
    `total_work` defaults to `fees`."""
    total_work = fees if total_work is None else total_work
    availability_pot, work_pot = split(emission, income, carry_in, fees)
    per_node = min(availability_pot // live_nodes, U128) if live_nodes else 0
    rate = min(work_pot * SCALE // total_work, U128) if total_work else 0
    paid = per_node * live_nodes + rate * total_work // SCALE
    return {
        "availabilityPot": availability_pot,
        "workPot": work_pot,
        "availabilityPerNode": per_node,
        "workRate": rate,
        "carried": availability_pot + work_pot - paid,
    }


def work_share(work: int, rate: int) -> int:
    return work * rate // SCALE


@contextmanager
def reverts_on_deploy(error, **inputs):
    """Like `ape.reverts(error, **inputs)`, for a constructor.

    A constructor's revert has no address to decode against: ape sometimes finds the custom error
    by its selector and sometimes raises a plain ContractLogicError with the raw data, and then
    `ape.reverts(SomeError)` accepts any revert. This checks the error and its inputs either way.
    """
    with ape.reverts() as info:
        yield info
    abi = error.abi
    exc = info.value
    if isinstance(exc, CustomError):
        assert type(exc).__name__ == abi.name, f"expected {abi.name}, got {type(exc).__name__}"
        actual = exc.inputs
    else:
        raw = exc.revert_message
        data = ast.literal_eval(raw) if raw.startswith(("b'", 'b"')) else bytes.fromhex(raw[2:])
        assert data[:4] == keccak(text=abi.selector)[:4], f"expected {abi.selector}, got {data!r}"
        values = decode([i.canonical_type for i in abi.inputs], data[4:])
        actual = {i.name: v for i, v in zip(abi.inputs, values, strict=True)}
    for name, expected in inputs.items():
        assert actual[name] == expected, f"{name}: expected {expected}, got {actual[name]}"
