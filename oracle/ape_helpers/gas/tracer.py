"""The opcode tracer (py-evm only): splits the gas of a transaction run by ape's in-process EVM
by contract and opcode class (docs/gas.md, "Where the gas goes")."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from oracle.ape_helpers.gas.keys import INTRINSIC_GAS

_CALLS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"}
_CATEGORY = {"SSTORE": "sstore", "SLOAD": "sload", "KECCAK256": "keccak", "SHA3": "keccak"}
_CATEGORY.update({f"LOG{i}": "log" for i in range(5)})
_CATEGORY.update({op: "call" for op in _CALLS})
_PRECOMPILES = {1: "ecrecover", 2: "sha256", 4: "identity", 5: "modexp"}


class GasTracer:
    """Splits the gas of transactions run by ape's in-process EVM (eth-tester + py-evm) by
    contract and opcode class, by wrapping the opcode table of the running VM while a
    transaction is sent. Unavailable (and silent) on any other provider."""

    def __init__(self, provider: Any, names: dict[str, str]):
        self._names = {bytes.fromhex(a[2:].lower()): n for a, n in names.items()}
        self._computation_class: Any = None
        self.fork: str | None = None
        try:
            vm = provider.evm_backend.chain.get_vm()
            self._computation_class = type(vm.state).computation_class
            self.fork = type(vm).__name__.removesuffix("VM")
        except AttributeError:
            pass
        self._runs: list[dict[str, Any]] = []
        self._top: Any = None

    @property
    def enabled(self) -> bool:
        return self._computation_class is not None

    @contextmanager
    def capture(self) -> Iterator[list[dict[str, Any]]]:
        """Traces what runs inside the block; yields the list of top-level executions."""
        runs: list[dict[str, Any]] = []
        if not self.enabled:
            yield runs
            return
        cls = self._computation_class
        had_own = "opcodes" in cls.__dict__
        original = cls.opcodes
        cls.opcodes = {code: self._wrap(fn) for code, fn in original.items()}
        self._runs, self._top = runs, None
        try:
            yield runs
        finally:
            if had_own:
                cls.opcodes = original
            else:
                del cls.opcodes

    def _frame(self, computation: Any) -> str:
        address = bytes(computation.msg.code_address)
        return self._names.get(address, "0x" + address.hex())

    def _wrap(self, fn: Any) -> Callable[..., Any]:
        mnemonic = getattr(fn, "mnemonic", "") or getattr(fn.__wrapped__, "mnemonic", "?")
        category = _CATEGORY.get(mnemonic, "compute")

        def traced(computation: Any) -> Any:
            if computation.msg.depth == 0 and computation is not self._top:
                self._top = computation
                self._runs.append({"gas": Counter(), "new_slots": Counter()})
            run = self._runs[-1]
            before = computation.get_gas_remaining()
            children = len(computation.children)
            try:
                return fn(computation=computation)
            finally:
                cost = before - computation.get_gas_remaining()
                frame = self._frame(computation)
                if len(computation.children) > children:
                    # A call ran a child frame: its own opcodes are counted there; a precompile
                    # runs no opcodes, so its gas is counted here under its own name.
                    child = computation.children[-1]
                    child_gas = child.msg.gas - child.get_gas_remaining()
                    cost -= child_gas
                    if child.msg.code_address in computation.precompiles:
                        target = int.from_bytes(bytes(child.msg.code_address), "big")
                        name = _PRECOMPILES.get(target, f"precompile {target:#x}")
                        run["gas"][(name, "precompile")] += child_gas
                run["gas"][(frame, category)] += cost
                if mnemonic == "SSTORE" and cost >= 20_000:
                    run["new_slots"][frame] += 1

        return traced

    def explain(self, receipt: Any, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Gas of `receipt` by category and contract; None if the traced run does not add up."""
        data = bytes(receipt.transaction.data)
        zeros = data.count(0)
        calldata = 4 * zeros + 16 * (len(data) - zeros)
        # Prague (EIP-7623) charges at least 10 gas per calldata token: report it, so that a
        # reader can see it never decides the price of these transactions.
        floor = INTRINSIC_GAS + 10 * (zeros + 4 * (len(data) - zeros))
        if not runs:
            return None
        # The first run is the transaction itself; ape replays it afterwards as a call.
        run = runs[0]
        spent = INTRINSIC_GAS + calldata + sum(run["gas"].values())
        refund = spent - receipt.gas_used
        if not 0 <= refund <= spent // 5:
            return None  # not the run we think it is: better no breakdown than a wrong one
        return {**_summarise(run, calldata, refund, receipt.gas_used), "calldata_floor": floor}


def _summarise(run: dict[str, Any], calldata: int, refund: int, total: int) -> dict[str, Any]:
    by_category: Counter = Counter()
    by_contract: Counter = Counter()
    for (frame, category), gas in run["gas"].items():
        by_category[category] += gas
        by_contract[frame] += gas
    return {
        "total": total,
        "intrinsic": INTRINSIC_GAS,
        "calldata": calldata,
        "storage_writes": by_category["sstore"],
        "storage_reads": by_category["sload"],
        "events": by_category["log"],
        "call_overhead": by_category["call"],
        "ecrecover": by_category["precompile"],
        "keccak": by_category["keccak"],
        "other_execution": by_category["compute"],
        "refund": -refund,
        "new_storage_slots": sum(run["new_slots"].values()),
        "by_contract": dict(by_contract.most_common()),
    }
