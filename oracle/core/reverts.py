"""Reverts read as the contracts' named errors: the one decoder for the node, the client and the
ape scripts.

    table = error_table(chain.abis)            # {contract: ABI} (or a list of ABIs: no contract)
    revert = decode_revert(err, table)         # Revert("JobMarket", "JobMarketWrongStatus", ...)
    str(revert)   # "JobMarket.JobMarketWrongStatus(jobId=3, status=Paid)": enums by name,
                  # amounts of TES in TES, short byte strings as text, addresses checksummed
    explain_revert(err, table)                 # that, or the node's own message on one line

The revert data is found wherever web3, ape or anvil put it: `err.data` (a hex string, or a dict
holding one), ape's `revert_message`, the exception's arguments (bytes, hex, or a `b'...'`
literal), anvil's "custom error 0x<selector>: <arguments>" text, or ape's own decoding of the
error (`err.abi`, `err.inputs`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from oracle.core.protocol import SOLIDITY_ENUMS
from oracle.core.units import format_tes

# Arguments of the contracts' errors that are amounts of TES (18 decimals).
AMOUNT_ARGS = frozenset({
    "amount", "balance", "needed", "need", "have", "free", "payment", "collateral", "allowance",
    "minimum",
})  # fmt: skip


@dataclass(frozen=True)
class ErrorAbi:
    """One custom error of one contract: its name and inputs as (name, ABI type, internal type)."""

    contract: str | None
    name: str
    inputs: tuple[tuple[str, str, str], ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(t for _, t, _ in self.inputs)})"


# 4-byte selector -> every contract's declaration of that error (OZ errors recur)
ErrorTable = Mapping[bytes, list[ErrorAbi]]


def _canonical(item: Mapping[str, Any]) -> str:
    """An ABI input's canonical type: tuples spelled out from their components."""
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in item.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


Abi = Iterable[Mapping[str, Any]]  # a contract's JSON ABI


def error_table(abis: Mapping[str, Abi] | Iterable[Abi]) -> ErrorTable:
    """Selector -> [ErrorAbi] over JSON ABIs: `{contract name: ABI}` (errors then name their
    contract), or any iterable of ABIs."""
    named: Iterable[tuple[str | None, Abi]] = (
        abis.items() if isinstance(abis, Mapping) else ((None, abi) for abi in abis)
    )
    table: dict[bytes, list[ErrorAbi]] = {}
    for contract, abi in named:
        for item in abi:
            if item.get("type") != "error":
                continue
            inputs = tuple((str(i.get("name") or ""), _canonical(i), str(i.get("internalType") or i["type"]))
                           for i in item.get("inputs", []))  # fmt: skip
            error = ErrorAbi(contract, str(item["name"]), inputs)
            table.setdefault(keccak(text=error.signature)[:4], []).append(error)
    return table


def show_arg(value: Any, name: str = "", internal: str = "") -> str:
    """One argument for people: an enum by name (`Paid`), an amount of TES in TES, a short byte
    string as its text, anything else as it is."""
    if internal.startswith("enum "):
        enum = SOLIDITY_ENUMS.get(internal.rsplit(".", 1)[-1])
        if enum is not None:
            try:
                return "".join(p.capitalize() for p in enum(int(value)).name.split("_"))
            except ValueError:
                return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and name.lower() in AMOUNT_ARGS \
            and (not internal or internal.startswith("uint")):  # fmt: skip
        return format_tes(value, rounded=True)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).rstrip(b"\x00")
        if text and all(32 <= c < 127 for c in text):
            return repr(text.decode())
        return "0x" + bytes(value).hex()
    return str(value)


@dataclass(frozen=True)
class Revert:
    """A decoded custom error: which contract declares it, its name and its arguments."""

    contract: str | None
    name: str
    inputs: dict[str, Any]
    abi: ErrorAbi | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        internal = {n: t for n, _, t in self.abi.inputs} if self.abi else {}
        args = ", ".join(
            f"{k}={show_arg(v, k, internal.get(k, ''))}" for k, v in self.inputs.items()
        )
        return f"{self.contract + '.' if self.contract else ''}{self.name}({args})"


# anvil answers an eth_call that reverts with a custom error as "execution reverted: custom error
# 0x7e273289: <the arguments>", in hex or, when every byte is printable, as characters; ape keeps
# only that text (ape 0.8.51).
_ANVIL_CUSTOM_ERROR = re.compile(r"custom error (0x[0-9a-fA-F]{8}):? ?(.*)\Z", re.S)


def _anvil_revert_data(err: BaseException) -> bytes | None:
    base = getattr(err, "base_err", None)
    for text in (*getattr(base, "args", ()), *getattr(err, "args", ())):
        m = _ANVIL_CUSTOM_ERROR.search(str(text))
        if m:
            text = m.group(2)
            try:  # hex when not all bytes are printable, else the bytes as they are
                hex_words = re.fullmatch(r"(?:[0-9a-fA-F]{64})*", text) is not None
                args = bytes.fromhex(text) if hex_words else text.encode("latin-1")
            except UnicodeEncodeError:
                args = b""  # not the bytes any more: the error's name, without its arguments
            return bytes.fromhex(m.group(1)[2:]) + args
    return None


def _as_data(candidate: Any) -> bytes | None:
    data = getattr(candidate, "data", candidate)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, bytes | bytearray) and len(data) >= 4:
        return bytes(data)
    if isinstance(data, str):
        s = data.strip()
        if s.startswith(("b'", 'b"')):
            try:
                value = ast.literal_eval(s)
            except (ValueError, SyntaxError):
                return None
            return bytes(value) if isinstance(value, bytes) and len(value) >= 4 else None
        if re.fullmatch(r"0x([0-9a-fA-F]{2}){4,}", s):
            return bytes.fromhex(s[2:])
    return None


def revert_data(err: BaseException) -> bytes | None:
    """The raw revert data (selector + arguments) a web3 / ape / anvil exception carries."""
    if (data := _anvil_revert_data(err)) is not None:
        return data
    for candidate in (
        getattr(err, "data", None),
        getattr(err, "revert_message", None),
        *getattr(err, "args", ()),
    ):
        if (data := _as_data(candidate)) is not None:
            return data
    m = re.search(r"0x(?:[0-9a-fA-F]{2}){4,}", str(getattr(err, "message", "") or err))
    return bytes.fromhex(m.group(0)[2:]) if m else None


def _declared_by(entries: list[ErrorAbi]) -> ErrorAbi:
    """The declaration to name: the contract whose name starts the error's, else the first."""
    for entry in entries:
        if entry.contract and entry.name.startswith(entry.contract):
            return entry
    return entries[0]


def decode_revert(err: BaseException, table: ErrorTable) -> Revert | None:
    """The custom error behind a failed call or transaction, or None if `table` does not know it."""
    abi = getattr(err, "abi", None)
    if getattr(abi, "type", None) == "error" and isinstance(getattr(abi, "selector", None), str):
        # ape decoded it already (its ErrorABI and the decoded inputs)
        found = table.get(keccak(text=abi.selector)[:4])  # type: ignore[union-attr]
        entry = _declared_by(found) if found else None
        return Revert(entry.contract if entry else None, str(abi.name),  # type: ignore[union-attr]
                      dict(getattr(err, "inputs", {}) or {}), entry)  # fmt: skip
    data = revert_data(err)
    if data is None or not (found := table.get(data[:4])):
        return None
    entry = _declared_by(found)
    try:
        values = abi_decode([t for _, t, _ in entry.inputs], data[4:])
    except Exception:  # noqa: BLE001 - malformed data: name the error without its arguments
        return Revert(entry.contract, entry.name, {}, entry)
    args = {n: to_checksum_address(v) if t == "address" else v
            for (n, t, _), v in zip(entry.inputs, values, strict=True)}  # fmt: skip
    return Revert(entry.contract, entry.name, args, entry)


def explain_revert(err: BaseException, table: ErrorTable) -> str:
    """A revert as the contract's named error, its arguments readable (`show_arg`); anything
    else as the node said it, on one line."""
    revert = decode_revert(err, table)
    if revert is not None:
        return str(revert)
    text = str(getattr(err, "message", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__
