"""Built-in job kinds: templates the client turns into ordinary bundles.

A kind is a runner script (`<kind>/runner.py`, plus the shared `tes_kit.py`), a default
`<kind>/config.json` and the manifest defaults below. `oracle.client.package` copies the runner
into the bundle as its entrypoint, writes the merged config, adds the data files and pins the
package versions, so a node runs every kind the same way (as a plain `command` would be run) and
the runner's code is covered by the bundle hash like everything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle.core.bundle import DEFAULT_TIME_LIMIT_S
from oracle.core.errors import InputError
from oracle.core.strict import unknown_key

KINDS_DIR = Path(__file__).resolve().parent
KIT = KINDS_DIR / "tes_kit.py"

# Pin the CPU code paths of the math libraries to AVX2 so nodes with and without AVX-512 compute
# the same floats (torch's own kernels, MKL's BLAS, oneDNN, OpenBLAS in numpy/scipy); joblib
# runs serially (no /dev/shm in the sandbox, and one thread is pinned anyway).
REPRODUCIBLE_MATH_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "JOBLIB_MULTIPROCESSING": "0",
}


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    packages: tuple[str, ...] = ()  # distributions whose versions are pinned in the manifest
    memory_mb: int = 512
    time_limit_s: int = DEFAULT_TIME_LIMIT_S
    env: dict[str, str] = field(default_factory=dict)
    shards: int = 0  # default fan-out (0: none); `runner.py reduce` merges the shards
    builtin_data: dict[str, str] = field(default_factory=dict)  # bundle path -> dataset name
    # Config keys: those of the default config.json (nested objects checked the same way), plus
    # per path ("a.b", "[]" = every list item, "*" = every value of a user-named mapping) the keys
    # an object there may hold; FREE paths take any keys (user-chosen names).
    config_keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def runner(self) -> Path | None:
        path = KINDS_DIR / self.name / "runner.py"
        return path if path.exists() else None

    @property
    def default_config(self) -> Path | None:
        path = KINDS_DIR / self.name / "config.json"
        return path if path.exists() else None

    def defaults(self) -> dict[str, Any]:
        path = self.default_config
        return json.loads(path.read_text()) if path else {}

    def check_config(self, config: Mapping[str, Any], source: str = "the config") -> None:
        """Raises InputError for a key the kind's runner never reads (a typo would be merged and
        silently ignored: `epohcs` would train the default 10 epochs), naming the likely
        spelling; nested objects are checked too."""
        if self.runner is None:
            return  # a `command` job's config.json is the user's own: any keys
        _check(config, self.defaults(), "", self.config_keys, f"{source} of kind {self.name!r}")


FREE = frozenset({"*"})  # config_keys value: any key (names the user chooses)


def _check(
    value: Any,
    default: Any,
    path: str,
    extra: Mapping[str, frozenset[str]],
    where: str,
    shown: str = "",
) -> None:
    """`path` is the pattern looked up in `extra` ("where[]", "search_space.*"); `shown` the
    real place, for the message ("where[0]", "search_space.C")."""
    if isinstance(value, list):
        item_default = default[0] if isinstance(default, list) and default else None
        for i, item in enumerate(value):
            _check(item, item_default, f"{path}[]", extra, where, f"{shown}[{i}]")
        return
    if not isinstance(value, Mapping):
        return
    allowed = extra.get(path)
    if allowed is None and not isinstance(default, Mapping):
        return  # a value whose shape the kind does not fix (e.g. `subset`: null or a number)
    free = allowed == FREE
    known = set(allowed or ()) | set(default.keys() if isinstance(default, Mapping) else ())
    for key, item in value.items():
        if not free and key not in known:
            raise InputError(unknown_key(str(key), known, f"{where}, {shown}" if shown else where))
        sub = default.get(key) if isinstance(default, Mapping) and not free else None
        step = "*" if free else str(key)
        _check(item, sub, f"{path}.{step}" if path else step, extra, where,
               f"{shown}.{key}" if shown else str(key))  # fmt: skip


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "train",
            "train a PyTorch MLP classifier (CPU, or a GPU when --gpus >= 1); outputs weights + metrics",
            packages=("numpy", "torch"),
            memory_mb=2048,
            env=REPRODUCIBLE_MATH_ENV,
            builtin_data={"data/digits.csv.gz": "digits"},
        ),
        Kind(
            "tune",
            "hyperparameter sweep (>= 16 trials) of scikit-learn models, fanned out over workers;"
            " outputs trials.csv + best.json",
            packages=("numpy", "scipy", "scikit-learn"),
            memory_mb=1024,
            env=REPRODUCIBLE_MATH_ENV,
            shards=4,
            builtin_data={"data/digits.csv.gz": "digits"},
            config_keys={
                "search_space": FREE,
                "search_space.*": frozenset({"log_uniform", "uniform", "int"}),
            },
        ),
        Kind(
            "simulate",
            "seeded RL rollouts (cart-pole, random-search policy); outputs return statistics",
            memory_mb=256,
        ),
        Kind(
            "map",
            "group-by aggregation over CSV shards, fanned out over workers; outputs aggregated.csv",
            memory_mb=256,
            shards=4,
            config_keys={"where[]": frozenset({"column", "op", "value"})},
        ),
        Kind("command", "any command of yours in the sandbox (--dir and --entrypoint)"),
    )
}


def builtin_dataset(name: str) -> Path:
    """Path of a dataset that ships inside an installed package (no download)."""
    if name == "digits":
        import importlib.util

        spec = importlib.util.find_spec("sklearn")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("scikit-learn is not installed: it ships the digits dataset")
        return (
            Path(next(iter(spec.submodule_search_locations)))
            / "datasets"
            / "data"
            / "digits.csv.gz"
        )
    raise KeyError(f"unknown built-in dataset {name!r}")
