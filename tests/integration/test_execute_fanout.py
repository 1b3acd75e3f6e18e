"""Fan-out jobs (manifest `fanout`): N sandboxed shard runs, then a sandboxed reduce that sees
the shard outputs read-only; the result is the reduce step's output alone. (The tune and map
kinds in tests/unit/test_kinds.py fan out on the Ray backend too.)"""

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from oracle.core import bundle as bundles
from oracle.core.results import result_hash
from oracle.execute import STATUS_FILE, ExecStatus, LocalSandboxBackend

SHARD = """
import json, os, sys
i, n = int(os.environ["TES_SHARD"]), int(os.environ["TES_SHARDS"])
if os.environ.get("FAIL_SHARD") == str(i):
    sys.exit(3)
out = os.environ["TES_OUTPUT_DIR"]
with open(os.path.join(out, "part.json"), "w") as f:
    json.dump({"shard": i, "of": n, "squares": [x * x for x in range(i, 40, n)],
               "sees_shards_dir": "TES_SHARDS_DIR" in os.environ}, f)
"""
REDUCE = """
import json, os
shards = os.environ["TES_SHARDS_DIR"]
parts = [json.load(open(os.path.join(shards, str(i), "part.json"))) for i in range(4)]
try:
    open(os.path.join(shards, "0", "tamper"), "w").write("x")
    tamper = "written"
except OSError as err:
    tamper = type(err).__name__
out = os.environ["TES_OUTPUT_DIR"]
with open(os.path.join(out, "total.json"), "w") as f:
    json.dump({"sum": sum(sum(p["squares"]) for p in parts), "shards": [p["shard"] for p in parts],
               "shard_sees_shards_dir": any(p["sees_shards_dir"] for p in parts), "tamper": tamper,
               "has_shard_env": "TES_SHARD" in os.environ}, f, sort_keys=True)
"""


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap (bwrap) is not installed: run `make setup`")
    backend = LocalSandboxBackend(tmp_path_factory.mktemp("fanout-work"), max_workers=2)
    yield backend
    backend.close()


def fanout_bundle(tmp_path: Path, env=None) -> tuple[Path, bundles.Manifest]:
    d = tmp_path / "bundle"
    d.mkdir()
    (d / "shard.py").write_text(textwrap.dedent(SHARD))
    (d / "reduce.py").write_text(textwrap.dedent(REDUCE))
    m = bundles.Manifest(
        entrypoint=["python3", "shard.py"], time_limit_s=30, env=env or {},
        fanout=bundles.Fanout(shards=4, reduce=["python3", "reduce.py"]),
    )  # fmt: skip
    (d / bundles.MANIFEST).write_text(m.model_dump_json())
    return d, bundles.load_manifest(d)


def test_fanout__shards_then_reduce__result_is_the_reduce_output_only(tmp_path, local):
    d, m = fanout_bundle(tmp_path)
    result = local.run_bundle(9, d, m, tmp_path / "out")
    assert result.status == ExecStatus.OK, result.stderr_tail
    total = json.loads((tmp_path / "out" / "total.json").read_text())
    assert total == {
        "sum": sum(x * x for x in range(40)), "shards": [0, 1, 2, 3], "shard_sees_shards_dir": False,
        "tamper": "OSError" if total["tamper"] != "PermissionError" else "PermissionError", "has_shard_env": False,
    }  # fmt: skip
    assert total["tamper"] != "written"  # /shards is read-only for the reduce step
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["total.json"]
    assert result.result_hash == result_hash(tmp_path / "out")
    # each shard wrote its own directory next to the output
    assert sorted(p.name for p in (tmp_path / "out.shards").iterdir()) == ["0", "1", "2", "3"]

    again = local.run_bundle(9, d, m, tmp_path / "out2")
    assert again.result_hash == result.result_hash


def test_fanout__a_shard_fails__no_reduce_and_a_deterministic_failure_record(tmp_path, local):
    d, m = fanout_bundle(tmp_path, env={"FAIL_SHARD": "2"})
    first = local.run_bundle(9, d, m, tmp_path / "out")
    second = local.run_bundle(9, d, m, tmp_path / "out2")
    assert first.status == ExecStatus.FAILED and "shard 2 of 4" in first.reason
    record = json.loads((tmp_path / "out" / STATUS_FILE).read_text())
    assert record == {"status": "failed", "exit_code": 3, "limit": None, "shard": 2}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [STATUS_FILE]
    assert first.result_hash == second.result_hash == result_hash(tmp_path / "out")
