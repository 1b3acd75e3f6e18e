"""Who may import whom in `oracle/` (issue [4/7]: each audience its own home). Every import
statement counts, those inside functions too (a lazy import is still a dependency), read from
the source with `ast`, so a new module is checked the day it lands.

* The node (`oracle/node/`, with the execution backends in `oracle/execute/`: what `tes-node`
  runs) never imports the client SDK, the local network (demo, benchmark, economics simulator,
  deployment) or ape: a node host needs none of them.
* The client (`oracle/client/`) never imports the node's own stages, store or servers: what both
  sides need (chain access, protocol types, bundles, results, proofs, the result request) lives
  in the shared core, `oracle/core/`, which imports nothing above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ORACLE = Path(__file__).resolve().parents[2] / "oracle"
LOCALNET = ("oracle.localnet", "oracle.ape_helpers", "ape", "ape_")
NOT_FOR_NODE = ("oracle.client",) + LOCALNET
NOT_FOR_CLIENT = ("oracle.node",) + LOCALNET
NOT_FOR_CORE = ("oracle.node", "oracle.client", "oracle.execute", "oracle.kinds") + LOCALNET


def _modules(names: list[str]) -> list[Path]:
    return [p for name in names for p in sorted((ORACLE / name).rglob("*.py"))]


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


def test_node__imports_no_client_localnet_or_ape():
    files = _modules(["node", "execute"])
    assert len(files) > 18
    assert _violations(files, NOT_FOR_NODE) == []


def test_client__imports_none_of_the_nodes_own_modules():
    files = _modules(["client"])
    assert len(files) >= 5
    assert _violations(files, NOT_FOR_CLIENT) == []


def test_core__imports_nothing_above_it():
    files = _modules(["core"])
    assert len(files) >= 11
    assert _violations(files, NOT_FOR_CORE) == []


def test_every_module_lives_in_an_audience_package():
    """Nothing new lands loose in oracle/: a module belongs to the node, the client, the core,
    the execution backends, the job kinds, the local network or the ape helpers."""
    loose = sorted(p.name for p in ORACLE.glob("*.py") if p.name != "__init__.py")
    assert loose == []


def test_the_rule_sees_lazy_imports(tmp_path):
    """The check itself: an import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from oracle.node.loop import Node\n")
    assert "oracle.node.loop" in _imports(f)
