"""Event logs decoded straight from their ABI with eth_abi, into exactly the arguments web3's
`get_event_data` gives (checksummed addresses, `bytes`, named structs as dicts, arrays as lists,
a dynamic indexed value as its topic hash).

Why not web3's: it looks the types up and walks every value through its formatters again for
each log, about 1 ms a log on this machine; a node reads some ten events per job, on the loop's
thread, on cores its workers need. `tests/unit/test_events.py` checks the two agree on every
event of the compiled contracts."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode
from eth_abi.grammar import parse
from eth_utils import event_abi_to_log_topic, to_checksum_address


def _type_str(inp: dict[str, Any]) -> str:
    """The canonical type of an ABI input ("(uint16,address)[]" for a struct array)."""
    t = inp["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_str(c) for c in inp["components"]) + ")" + t[len("tuple") :]
    return t


def _normalizer(inp: dict[str, Any]) -> Any:
    """A function turning eth_abi's value of `inp` into web3's, or None when they are the same."""
    t = inp["type"]
    if t.endswith("]"):
        inner = _normalizer({**inp, "type": t[: t.rindex("[")]})
        if inner is None:
            return list
        return lambda v: [inner(x) for x in v]
    if t == "address":
        return to_checksum_address
    if t == "tuple":
        parts = [(c["name"], _normalizer(c)) for c in inp["components"]]
        return lambda v: {n: (f(x) if f else x) for (n, f), x in zip(parts, v, strict=True)}
    return None


class EventDecoder:
    """One event ABI's decoder: `args(topics, data)` -> the event's arguments by name."""

    def __init__(self, abi: dict[str, Any]):
        self.name: str = abi["name"]
        self.topic = event_abi_to_log_topic(abi)  # type: ignore[arg-type]
        indexed = [i for i in abi["inputs"] if i.get("indexed")]
        plain = [i for i in abi["inputs"] if not i.get("indexed")]
        # A dynamic indexed value (string, bytes, array, struct) is only its hash in the topic.
        self._indexed = [
            (i["name"], _type_str(i), parse(_type_str(i)).is_dynamic, _normalizer(i))
            for i in indexed
        ]
        self._plain_names = [i["name"] for i in plain]
        self._plain_types = [_type_str(i) for i in plain]
        self._plain_norm = [_normalizer(i) for i in plain]

    def args(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, typ, dynamic, norm), topic in zip(self._indexed, topics[1:], strict=True):
            if dynamic:
                out[name] = bytes(topic)
            else:
                value = decode([typ], bytes(topic))[0]
                out[name] = norm(value) if norm else value
        values = decode(self._plain_types, bytes(data))
        for name, norm, value in zip(self._plain_names, self._plain_norm, values, strict=True):
            out[name] = norm(value) if norm else value
        return out


def decoders(abi: list[dict[str, Any]]) -> dict[bytes, EventDecoder]:
    """topic 0 -> decoder, for every non-anonymous event of a contract's ABI."""
    events = [EventDecoder(e) for e in abi if e["type"] == "event" and not e.get("anonymous")]
    return {d.topic: d for d in events}
