"""The built-in job kinds, packaged by the client and run in real sandboxes (no chain).

Each kind must give the identical result hash when run twice (two runs at once, as two
replicas would) and on the local and the Ray backends; tune and map fan out over the workers.
Configs are kept small (a digits subset, few epochs) so the file stays well under two minutes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from oracle.client.errors import ClientError
from oracle.client.package import package
from oracle.core import bundle as bundles
from oracle.core.errors import InputError, JobRefusedError, SandboxUnavailableError
from oracle.core.results import result_hash
from oracle.execute import ExecStatus, LocalSandboxBackend, detect_gpus
from oracle.kinds import KINDS

SMALL = {
    "train": {"epochs": 3, "subset": 500, "hidden": [32]},
    "tune": {
        "subset": 400,
        "trials": 16,
        "search_space": {"C": {"log_uniform": [0.001, 10.0]}, "max_iter": [20, 40]},
    },
    "simulate": {
        "episodes": 30,
        "max_steps": 200,
        "search": {"iterations": 6, "episodes": 3, "noise": 0.5},
    },
    "map": {"generate": {"files": 4, "rows_per_file": 400, "seed": 3}},
}
SHARDS = {"tune": 2, "map": 2}
COMMAND = """
import json, os, random
random.seed(int(os.environ["SEED"]))
out = os.environ["TES_OUTPUT_DIR"]
with open(os.path.join(out, "draws.json"), "w") as f:
    json.dump([random.random() for _ in range(100)], f)
"""


def require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail(
            "bubblewrap (bwrap) is not installed: run `make setup` (apt-get install -y bubblewrap)"
        )


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The local pool, told it has no GPU (so the refusal tests hold on a GPU host too)."""
    require_bwrap()
    backend = LocalSandboxBackend(tmp_path_factory.mktemp("kinds-local"), max_workers=2, gpus=0)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def ray(tmp_path_factory):
    """A local Ray cluster (or the one another module of this session already started)."""
    require_bwrap()
    from oracle.execute import RayBackend

    backend = RayBackend(
        work_dir=tmp_path_factory.mktemp("kinds-ray"),
        num_cpus=2,
        num_gpus=0,
        object_store_memory=100 << 20,
    )
    yield backend
    backend.close()


def make(kind: str, tmp: Path, **overrides):
    if kind == "command":
        src = tmp / "src"
        src.mkdir(exist_ok=True)
        (src / "main.py").write_text(COMMAND)
        return package("command", tmp / "command.tar.gz", source_dir=src, entrypoint=["python3", "main.py"],
                       seed=5, **overrides)  # fmt: skip
    return package(
        kind,
        tmp / f"{kind}.tar.gz",
        config=SMALL[kind],
        shards=SHARDS.get(kind),
        seed=11,
        **overrides,
    )


def unpacked(p, where: Path) -> tuple[Path, bundles.Manifest]:
    """What a node does with the published bytes: unpack and check them."""
    manifest = bundles.unpack(p.path.read_bytes(), where, 1 << 30)
    return where, manifest


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind__two_local_runs_and_ray__give_identical_result_hashes(kind, tmp_path, local, ray):
    p = make(kind, tmp_path)
    assert p.manifest.kind == kind and "manifest.json" not in p.manifest.inputs
    if kind in SHARDS:
        assert p.manifest.fanout is not None and p.manifest.fanout.shards == SHARDS[kind]
    # the same directory packs to the same bytes: the hash a client publishes is reproducible
    assert bundles.pack(p.directory) == p.path.read_bytes()

    dirs = [unpacked(p, tmp_path / f"node{i}") for i in range(2)]
    with ThreadPoolExecutor(2) as pool:  # two replicas at once, as two node processes would
        runs = list(
            pool.map(
                lambda i: local.run_bundle(1, dirs[i][0], dirs[i][1], tmp_path / f"out{i}"),
                range(2),
            )
        )
    for r in runs:
        assert r.status == ExecStatus.OK, (r.reason, r.stderr_tail[-3000:])
    assert runs[0].result_hash == runs[1].result_hash == result_hash(tmp_path / "out0")

    on_ray = ray.run_bundle(1, dirs[0][0], dirs[0][1], tmp_path / "out-ray")
    assert on_ray.status == ExecStatus.OK, (on_ray.reason, on_ray.stderr_tail[-3000:])
    assert on_ray.result_hash == runs[0].result_hash
    check_outputs(kind, tmp_path / "out0", p)


def check_outputs(kind: str, out: Path, p) -> None:
    """The outputs are the real thing, not merely stable."""
    files = sorted(f.relative_to(out).as_posix() for f in out.rglob("*") if f.is_file())
    if kind == "train":
        import numpy as np

        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["device"] == "cpu" and len(metrics["epochs"]) == 3
        assert metrics["test_accuracy"] > 0.5  # 10 classes: far above chance after 3 epochs
        model = json.loads((out / "model.json").read_text())
        for name, shape in model["tensors"].items():
            assert list(np.load(out / "weights" / f"{name}.npy").shape) == shape
        assert model["tensors"]["0.weight"] == [32, 64]
    elif kind == "tune":
        rows = list(csv.DictReader((out / "trials.csv").open()))
        assert [int(r["trial"]) for r in rows] == list(range(16))
        best = json.loads((out / "best.json").read_text())
        assert best["trials"] == 16
        assert best["best"]["val_accuracy"] == max(float(r["val_accuracy"]) for r in rows) > 0.5
        assert files == ["best.json", "trials.csv"]  # shard outputs are not part of the result
    elif kind == "simulate":
        stats = json.loads((out / "returns.json").read_text())["policies"]
        assert stats["random"]["episodes"] == 30
        assert stats["learned_linear"]["mean"] > stats["random"]["mean"]
    elif kind == "map":
        expected: dict = defaultdict(lambda: [0, 0])
        for f in sorted((p.directory / "data").glob("*.csv")):
            for row in csv.DictReader(f.open()):
                if int(row["units"]) > 0:
                    acc = expected[(row["region"], row["product"])]
                    acc[0] += 1
                    acc[1] += int(row["revenue_cents"])
        got = {(r["region"], r["product"]): [int(r["count"]), int(r["sum_revenue_cents"])]
               for r in csv.DictReader((out / "aggregated.csv").open())}  # fmt: skip
        assert got == dict(expected) and len(got) == 20
        assert json.loads((out / "summary.json").read_text())["shards"] == 2
    else:
        assert files == ["draws.json"]


def test_train__asking_for_a_gpu__is_refused_by_backends_without_one(tmp_path, local, ray):
    p = make("train", tmp_path, gpus=1)
    assert p.manifest.resources.gpus == 1
    for backend in (local, ray):
        with pytest.raises(JobRefusedError, match="gpus=1"):
            backend.run_bundle(1, p.directory, p.manifest, tmp_path / f"out-{backend.name}")


def test_train__given_a_gpu_slot_without_a_device__is_a_node_fault_not_cpu_training(tmp_path):
    """A node that declares a GPU the driver does not have must not silently train on the CPU
    (which would disagree with real GPU replicas), nor blame the job: the sandbox refuses to start
    (a fault of the node, never committed as the job's result)."""
    p = make("train", tmp_path, gpus=1)
    with LocalSandboxBackend(tmp_path / "work", gpus=1) as liar:
        with pytest.raises(SandboxUnavailableError, match="not listed by the NVIDIA driver"):
            liar.run_bundle(1, p.directory, p.manifest, tmp_path / "out")


def test_train__runner_without_a_visible_gpu__fails_loudly_not_on_cpu(tmp_path, local):
    """The runner's own guard, for a GPU the sandbox shows but CUDA cannot use: a clear
    environment error (exit 3) instead of training on the CPU."""
    p = make("train", tmp_path, gpus=1)
    base = LocalSandboxBackend.spec_of(1, p.directory, p.manifest)
    limits = dataclasses.replace(base.limits, gpus=0)  # the manifest still asks for one
    spec = dataclasses.replace(base, limits=limits, output_dir=tmp_path / "out")
    result = local.run(spec)
    assert result.status == ExecStatus.FAILED and result.exit_code == 3
    assert "asks for a GPU but none is visible" in result.stderr_tail


def test_train__on_a_gpu_node__trains_on_cuda_and_replicas_agree(tmp_path):
    if not detect_gpus():
        pytest.skip("no GPU on this machine (the GPU path runs on GPU hosts only)")
    p = make("train", tmp_path, gpus=1)
    with LocalSandboxBackend(tmp_path / "work") as gpu_node:
        runs = [
            gpu_node.run_bundle(1, p.directory, p.manifest, tmp_path / f"out{i}") for i in range(2)
        ]
    assert [r.status for r in runs] == [ExecStatus.OK] * 2, runs[0].stderr_tail
    assert runs[0].result_hash == runs[1].result_hash
    assert json.loads((tmp_path / "out0" / "metrics.json").read_text())["device"] == "cuda"


def test_runner__pinned_package_mismatch__fails_with_the_difference(tmp_path, local):
    p = make("simulate", tmp_path)
    m = json.loads((p.directory / "manifest.json").read_text())
    m["packages"]["python"] = "2.7"
    (p.directory / "manifest.json").write_text(json.dumps(m))
    result = local.run_bundle(1, p.directory, bundles.load_manifest(p.directory), tmp_path / "out")
    assert result.status == ExecStatus.FAILED and result.exit_code == 3
    assert "python 3.11 (job pinned 2.7)" in result.stderr_tail


def test_package__pins_versions_inputs_and_defaults(tmp_path):
    p = make("tune", tmp_path)
    m = p.manifest
    assert m.entrypoint == ["python3", "runner.py"] and m.fanout.reduce == [
        "python3",
        "runner.py",
        "reduce",
    ]
    assert set(m.packages) == {"python", "numpy", "scipy", "scikit-learn"}
    assert set(m.inputs) == {"runner.py", "tes_kit.py", "config.json", "data/digits.csv.gz"}
    assert m.env["JOBLIB_MULTIPROCESSING"] == "0" and m.env["ATEN_CPU_CAPABILITY"] == "avx2"
    cfg = json.loads((p.directory / "config.json").read_text())
    assert cfg["trials"] == 16 and cfg["model"] == "logreg"  # user keys merged over the defaults


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="render"), "unknown kind 'render'"),
        (dict(kind="command"), "needs an entrypoint"),
        (dict(kind="train", config={"dataset": "data/mine.csv"}), "not in the bundle"),
        (dict(kind="train", entrypoint=["python3", "x.py"]), "built-in runner"),
        (dict(kind="simulate", data=[Path("/nonexistent/file.csv")]), "does not exist"),
        (dict(kind="map", config={"generate": None}), "needs CSV shards"),
        (dict(kind="simulate", reduce=["python3", "r.py"]), "--reduce needs --shards"),
    ],
)
def test_package__bad_input__says_what_is_wrong(tmp_path, kwargs, message):
    kind = kwargs.pop("kind")
    with pytest.raises(ClientError, match=message):
        package(kind, tmp_path / "b.tar.gz", **kwargs)


@pytest.mark.parametrize(
    "kind, config, message",
    [
        ("train", {"epohcs": 3}, "unknown key 'epohcs' in the config of kind 'train' (did you mean 'epochs'?)"),
        ("simulate", {"search": {"iteratons": 2}}, "search (did you mean 'iterations'?)"),
        ("map", {"generate": {"files": 2, "rows_per_fil": 9}}, "generate (did you mean 'rows_per_file'?)"),
        ("map", {"where": [{"column": "units", "op": ">", "value": 0}, {"colum": "units"}]},
         "where[1] (did you mean 'column'?)"),
        ("tune", {"search_space": {"C": {"log_unifrom": [0.1, 1.0]}}}, "search_space.C (did you mean 'log_uniform'?)"),
        ("train", {"zzz": 1}, "known: batch_size, dataset, device, epochs"),
    ],
)  # fmt: skip
def test_package__a_typo_in_a_kinds_config__is_refused_with_the_likely_spelling(
    tmp_path, kind, config, message
):
    with pytest.raises(InputError) as info:
        package(kind, tmp_path / "b.tar.gz", config=config)
    assert message in str(info.value)
    assert not (tmp_path / "b.tar.gz").exists()


def test_package__user_named_keys_stay_free(tmp_path):
    """tune's search_space names the model's own parameters: any name, checked distributions."""
    cfg = {"subset": 100, "search_space": {"tol": {"uniform": [0.001, 0.01]}, "max_iter": [5, 10]}}
    p = package("tune", tmp_path / "b.tar.gz", config=cfg)
    assert (
        json.loads((p.directory / "config.json").read_text())["search_space"] == cfg["search_space"]
    )


@pytest.mark.parametrize(
    "manifest, entrypoint, message",
    [
        ({"entrypont": ["python3", "main.py"]}, None, "unknown key 'entrypont' in"),
        ({"time_limt_s": 5}, "python3 main.py", "(did you mean 'time_limit_s'?)"),
        ({"resources": {"cpu": 2}}, "python3 main.py", "unknown key 'cpu' in resources of"),
        ({"fanout": {"shards": 2, "reduc": ["x"]}}, "python3 main.py", "(did you mean 'reduce'?)"),
        ("{not json", "python3 main.py", "is not valid JSON"),
        (None, "python3 mian.py", "runs 'mian.py', which is not in the bundle (did you mean 'main.py'?)"),
        (None, "./run.sh", "runs './run.sh', which is not in the bundle"),
    ],
)  # fmt: skip
def test_package__own_manifest_typos_and_missing_scripts__refused(
    tmp_path, manifest, entrypoint, message
):
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("print(1)\n")
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        (src / "manifest.json").write_text(text)
    with pytest.raises(ClientError) as info:
        package("command", tmp_path / "b.tar.gz", source_dir=src,
                entrypoint=entrypoint.split() if entrypoint else None)  # fmt: skip
    assert message in str(info.value)


def test_package__entrypoints_that_are_not_files_in_the_bundle_pass(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("print(1)\n")
    for argv in (["python3", "-u", "main.py"], ["python3", "-c", "print(1)"], ["echo", "hi"]):
        p = package("command", tmp_path / "b.tar.gz", source_dir=src, entrypoint=argv)
        assert p.manifest.entrypoint == argv


def test_time_limit__one_default_for_package_and_a_manifest_without_one(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.py").write_text("print(1)\n")
    packaged = package(
        "command", tmp_path / "b.tar.gz", source_dir=src, entrypoint=["python3", "main.py"]
    )
    bare = bundles.Manifest(entrypoint=["python3", "main.py"])
    assert (
        packaged.manifest.time_limit_s == bare.time_limit_s == bundles.DEFAULT_TIME_LIMIT_S == 300
    )
    assert {k.time_limit_s for k in KINDS.values()} == {bundles.DEFAULT_TIME_LIMIT_S}
