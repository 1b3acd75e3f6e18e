"""The anvil run next to the in-process one: the figures both measured, their relative
difference, and the in-process report with the anvil column merged in."""

from typing import Any

from oracle.ape_helpers.gas.keys import AGREEMENT, DRAW_DEPENDENT, SCENARIOS, batch_key


def compare(inproc: dict[str, Any], anvil: dict[str, Any]) -> dict[str, Any]:
    """Rows {key: [in-process, anvil, relative difference]} for the keys both runs measured; the
    agreement bound holds over the scenarios that do the same work on both chains (the draw-
    dependent ones are reported apart, `max_relative_difference_drawn`)."""
    rows = {}
    for key in compared_keys(inproc):
        if key in anvil and inproc[key]:
            rows[key] = [inproc[key], anvil[key], abs(anvil[key] - inproc[key]) / inproc[key]]
    same = [row[2] for key, row in rows.items() if key not in DRAW_DEPENDENT]
    drawn = [row[2] for key, row in rows.items() if key in DRAW_DEPENDENT]
    worst = max(same, default=0.0)
    return {
        "rows": rows,
        "max_relative_difference": worst,
        "max_relative_difference_drawn": max(drawn, default=0.0),
        "agree": worst <= AGREEMENT,
    }


def compared_keys(report: dict[str, Any]) -> list[str]:
    n = report["batch"]
    return [*(key for key, _ in SCENARIOS.values()), batch_key(n), batch_key(n, True)]


def merge_anvil(inproc: dict[str, Any], anvil: dict[str, Any]) -> dict[str, Any]:
    """The in-process report with the anvil run's figures and the comparison added."""
    values = {key: anvil[key] for key in compared_keys(anvil) if key in anvil}
    merged = {**inproc, "anvil": {"network": anvil["network"], "values": values}}
    merged["anvil"]["comparison"] = compare(inproc, values)
    return merged
