# TES build entry points. Everything installs project-locally and offline-safe:
#   .venv/          Python toolchain (ape, ape-solidity, ape-foundry, slither...)
#   node_modules/   solc-js, OpenZeppelin contracts, anvil
#   .solcx/         solc-v0.8.28 -> tools/solc/solc (or a native solc 0.8.28)
# `make setup` is idempotent: stamps in .stamps/ make a second run take seconds.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

SOLC_VERSION := 0.8.28
VENV         := .venv
PY           := $(VENV)/bin/python
APE          := $(VENV)/bin/ape
SLITHER      := $(VENV)/bin/slither
RUFF         := $(VENV)/bin/ruff
STAMPS       := .stamps

# py-solc-x (used by ape-solidity) looks for compilers here, never in ~/.solcx.
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
# anvil (for ape-foundry) and solcjs come from node_modules; nothing else
# is taken from PATH (tools are called as $(VENV)/bin/... explicitly).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

OZ_REMAP     := @openzeppelin/contracts=node_modules/@openzeppelin/contracts
PY_DIRS      := $(wildcard oracle scripts tests)
SOL_FILES    := $(wildcard contracts/*.sol contracts/*/*.sol)

.PHONY: setup compile test test-evm test-anvil lint gas demo localnet bench econ soak mutate clean distclean

# ------------------------------------------------------------------ setup ---

setup: $(STAMPS)/venv $(STAMPS)/npm $(STAMPS)/bwrap solc-link

$(STAMPS):
	@mkdir -p $@

$(STAMPS)/venv: pyproject.toml requirements.lock | $(STAMPS)
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "pip install -c requirements.lock -e '.[dev]' (log: $(STAMPS)/pip.log)"
	@$(PY) -m pip install -q -c requirements.lock -e '.[dev]' > $(STAMPS)/pip.log 2>&1 \
	  || { tail -n 40 $(STAMPS)/pip.log; exit 1; }
	@touch $@

$(STAMPS)/npm: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Sandboxing for job execution (Debian bubblewrap, and libseccomp2 for its
# syscall filter). Best effort: only as root, only when missing, a failure is
# not fatal here; the node refuses untrusted jobs without them (loudly).
SANDBOX_DEBS := bubblewrap libseccomp2
$(STAMPS)/bwrap: | $(STAMPS)
	@if { ! command -v bwrap >/dev/null 2>&1 || ! ldconfig -p | grep -q libseccomp.so.2; } \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(SANDBOX_DEBS)"; \
	  ( apt-get install -y -qq $(SANDBOX_DEBS) >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(SANDBOX_DEBS) >/dev/null 2>&1; } ) \
	  || echo "warning: could not install $(SANDBOX_DEBS) (ignored)"; \
	fi
	@touch $@

# Link a native solc $(SOLC_VERSION) if one is on PATH (skipping solc-select's
# Python shim, which would try to download), else the solc-js bridge.
# Also record SOLCX_BINARY_PATH in the venv (a .pth file), so a bare
# `.venv/bin/ape ...` outside make never falls back to ~/.solcx and a download.
solc-link: $(STAMPS)/npm $(STAMPS)/venv
	@mkdir -p .solcx
	@pth="$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/tes_solcx.pth"; \
	line='import os; os.environ.setdefault("SOLCX_BINARY_PATH", "$(CURDIR)/.solcx")'; \
	[ "$$(cat "$$pth" 2>/dev/null)" = "$$line" ] || echo "$$line" > "$$pth"
	@target="$(CURDIR)/tools/solc/solc"; \
	if native="$$(command -v solc 2>/dev/null)" \
	   && ! head -c 64 "$$native" | grep -q python \
	   && timeout 10 "$$native" --version 2>/dev/null | grep -q "Version: $(SOLC_VERSION)+"; then \
	  target="$$native"; \
	fi; \
	if [ "$$(readlink .solcx/solc-v$(SOLC_VERSION) || true)" != "$$target" ]; then \
	  ln -sfn "$$target" .solcx/solc-v$(SOLC_VERSION); \
	  echo "linked .solcx/solc-v$(SOLC_VERSION) -> $$target"; \
	fi

# ------------------------------------------------------------ build/test ---

compile: setup
	$(APE) compile

# pytest exit code 5 means "no tests collected": not an error here.
define run_ape_test
	rc=0; $(APE) test $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "(no tests selected: $(1))"; rc=0; fi; exit $$rc
endef

test: compile
	@$(MAKE) --no-print-directory test-evm test-anvil

# In-process EVM (ape-test: eth-tester/py-evm).
test-evm:
	@$(call run_ape_test,tests/ -q -m "not anvil")

# Tests marked `anvil`, on an anvil node that ape starts and stops itself.
test-anvil:
	@$(call run_ape_test,tests/ -q -m anvil --network ethereum:local:foundry)

# slither compiles the contracts as ape does (via-IR, optimizer 200 runs, cancun): the legacy
# pipeline runs out of stack on what via-IR builds (JobCreated's full terms).
SLITHER_SOLC_ARGS := --via-ir --optimize --optimize-runs 200 --evm-version cancun

lint: setup
	@if [ -n "$(SOL_FILES)" ]; then \
	  $(SLITHER) contracts --solc tools/solc/solc --solc-remaps "$(OZ_REMAP)" \
	    --solc-args "$(SLITHER_SOLC_ARGS)" \
	    --filter-paths node_modules --exclude-dependencies \
	    --config-file slither.config.json --fail-medium; \
	else echo "slither: no contracts yet"; fi
	$(RUFF) format --check $(PY_DIRS) tools
	$(RUFF) check $(PY_DIRS) tools
	$(VENV)/bin/mypy

# The whole network on a local anvil chain, real jobs end to end (see oracle/localnet/demo.py).
demo: compile
	$(PY) -m oracle.localnet.demo

# A local network of your own, kept in .localnet/ between runs (see oracle/localnet/cli.py and
# docs/first-job.md): anvil with a block every 2 s, the contracts, 3 nodes, funded accounts.
# Ctrl-C stops it; LOCALNET_ARGS=--fresh starts over (`tes-localnet up --help` for the rest).
localnet: compile
	$(VENV)/bin/tes-localnet up $(LOCALNET_ARGS)

# Throughput, latency, oracle overhead, scaling and gas on this machine (see oracle/localnet/bench/):
# writes docs/bench.json and docs/BENCHMARKS.md. BENCH_ARGS=--quick for a smoke test.
bench: compile
	$(PY) -m oracle.localnet.bench $(BENCH_ARGS)

# In-process EVM first, then the same scenarios on anvil merged in (docs/gas.md shows both).
gas: compile
	$(APE) run gas
	$(APE) run gas --network ethereum:local:foundry

# Adversarial economics: every attack strategy against honest work over many epochs on the real
# contracts (in-process EVM): writes docs/ECONOMICS.md and docs/econ.json.
econ: compile
	$(APE) run econ

# The stateful invariant machine's long profile (>= 10,000 steps; records the run in docs/).
soak: compile
	TES_STATEFUL_PROFILE=soak $(APE) test tests/invariants -q -m "not anvil" -p no:cacheprovider

# Mutation campaign over the contracts against their unit tests: writes docs/MUTATION.md.
# It mutates a copy of the tree in .mutate/ (never the checkout). A full campaign is ~800
# mutants at a compile and a test run each; MUTATE_ARGS samples (override for more).
MUTATE_ARGS ?= --sample 5 --seed 11
mutate: compile
	rm -rf .mutate && mkdir .mutate
	git ls-files -co --exclude-standard | grep -v '^\.' | xargs -I{} cp --parents {} .mutate/
	ln -s ../.venv .mutate/.venv && ln -s ../node_modules .mutate/node_modules && ln -s ../.solcx .mutate/.solcx
	$(PY) tools/mutate.py --root .mutate --out docs/MUTATION.md $(MUTATE_ARGS)

clean:
	rm -rf .build .solcx .mutate crytic-export .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -not -path './.venv/*' -not -path './node_modules/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules $(STAMPS)
