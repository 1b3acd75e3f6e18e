"""Who may import whom in `oracle/` (issue [4/7]: each audience its own home). Every import
statement counts, those inside functions too (a lazy import is still a dependency), read from
the source with `ast`, so a new module is checked the day it lands.

* The node (what `tes-node` runs) never imports the client SDK, the demo, the local network,
  the benchmark, the economics simulator or ape: a node host needs none of them.
* The client (`oracle/client/`) never imports the node's own stages, store or servers: what both
  sides need (chain access, protocol types, bundles, results, proofs, the result request) lives
  in shared modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ORACLE = Path(__file__).resolve().parents[2] / "oracle"
NODE = ["node", "submit", "ingest", "schedule", "preflight", "serve", "store", "retention", "cli",
        "settings", "metrics", "execute"]  # fmt: skip
NOT_FOR_NODE = ("oracle.client", "oracle.demo", "oracle.localnet", "oracle.bench", "oracle.econ",
                "oracle.ape_helpers", "ape", "ape_")  # fmt: skip
NOT_FOR_CLIENT = tuple(f"oracle.{m}" for m in NODE if m != "execute") + (
    "oracle.demo", "oracle.localnet", "oracle.bench", "oracle.econ", "oracle.ape_helpers", "ape",
)  # fmt: skip


def _modules(names: list[str]) -> list[Path]:
    out = []
    for name in names:
        path = ORACLE / name
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    def hits(module: str) -> bool:
        return any(module == f or module.startswith(f + ".") or (f.endswith("_") and module.startswith(f))
                   for f in forbidden)  # fmt: skip

    return [
        f"{p.relative_to(ORACLE.parent)} imports {m}"
        for p in files
        for m in sorted(_imports(p))
        if hits(m)
    ]


def test_node__imports_no_client_demo_localnet_benchmark_econ_or_ape():
    files = _modules(NODE)
    assert len(files) > 12
    assert _violations(files, NOT_FOR_NODE) == []


def test_client__imports_none_of_the_nodes_own_modules():
    files = _modules(["client"])
    assert len(files) >= 5
    assert _violations(files, NOT_FOR_CLIENT) == []


def test_the_rule_sees_lazy_imports(tmp_path):
    """The check itself: an import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from oracle.node import Node\n")
    assert "oracle.node" in _imports(f)
