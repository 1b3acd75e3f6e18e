"""Strict inputs: an unknown key is an error that names the likely spelling.

Used for bundle manifests (`oracle.core.bundle`), the kinds' configs (`oracle.kinds`) and the
client's own inputs, so a typo such as `entrypont` or `epohcs` is refused with "did you mean
'entrypoint'?" instead of being dropped or merged and ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The one of `choices` most like `word` (difflib's ratio at least `cutoff`), or None: the
    spelling suggester of every input (manifests, configs, node settings, TES_* variables)."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=cutoff)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or '' when nothing is close."""
    close = closest(word, choices, cutoff)
    return f" (did you mean {close!r}?)" if close else ""


def unknown_key(key: str, allowed: Iterable[str], where: str) -> str:
    """The message for one unknown key: where it is, the likely spelling, the keys allowed."""
    allowed = sorted(set(allowed))
    hint = suggest(key, allowed)
    listing = "" if hint else f"; known: {', '.join(allowed)}"
    return f"unknown key {key!r} in {where}{hint}{listing}"


def path_text(loc: Sequence[Any]) -> str:
    """('resources', 'cpus') -> 'resources.cpus'; list indexes as [i]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at `loc` (for the allowed names of a nested key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        found = None
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found = candidate
        current = found
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def explain(err: ValidationError, model: type[BaseModel], what: str) -> str:
    """A pydantic error as short lines a person can act on: unknown keys with their likely
    spelling, and each wrong value with its field path."""
    lines = []
    for e in err.errors():
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "extra_forbidden" and loc:
            owner = _model_at(model, loc[:-1])
            allowed = list(owner.model_fields) if owner else []
            where = f"{path_text(loc[:-1])} of {what}" if len(loc) > 1 else what
            lines.append(unknown_key(str(loc[-1]), allowed, where))
        else:
            where = path_text(loc) or what
            lines.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(lines)
