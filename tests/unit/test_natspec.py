"""Every custom error and event in contracts/interfaces/ carries NatSpec.

The interfaces are where integrators (clients, node software, keepers, indexers) read what a revert
or a log means, so each `error` and `event` there must be directly preceded by a `///` comment.
"""

import re
from pathlib import Path

INTERFACES = Path(__file__).resolve().parents[2] / "contracts" / "interfaces"
DECLARATION = re.compile(r"^\s*(error|event)\s+(\w+)")


def undocumented(source: str) -> tuple[dict[str, int], list[str]]:
    """Counts of errors and events declared in `source`, and the names lacking a `///` line above."""
    counts = {"error": 0, "event": 0}
    missing = []
    previous = ""
    for line in source.splitlines():
        match = DECLARATION.match(line)
        if match:
            counts[match.group(1)] += 1
            if not previous.lstrip().startswith("///"):
                missing.append(match.group(2))
        if line.strip():
            previous = line
    return counts, missing


def test_interfaces__every_error_and_event_has_natspec():
    files = sorted(INTERFACES.glob("*.sol"))
    assert files, f"no interfaces found in {INTERFACES}"
    problems = {}
    for path in files:
        counts, missing = undocumented(path.read_text())
        if any(counts.values()):
            # A file that declares any must declare both kinds here, so the scan cannot pass vacuously.
            assert counts["error"] and counts["event"], f"{path.name}: found only {counts}"
        if missing:
            problems[path.name] = missing
    assert not problems, "errors/events without a /// comment above them: " + "; ".join(
        f"{name}: {', '.join(names)}" for name, names in problems.items()
    )
