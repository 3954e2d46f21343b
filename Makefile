PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

DEMO_STAMP := $(VENV)/.installed-demo
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: test fuzz demo docs lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

NATIVE_SRC := setup.py $(wildcard src/chainrule/backend/native*.[ch] src/chainrule/backend/_build.py)

# the editable install compiles the native kernels (setup.py, cffi) into src/chainrule/backend
$(STAMP): $(BIN)/python pyproject.toml $(NATIVE_SRC)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# tests/backend runs every kernel on both backends (native and the NumPy reference)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

# program-level differential fuzzing against torch (tests/fuzz): thousands of random programs
# and Hypothesis state-machine examples; counts per category, minimized repro of each finding
FUZZ_PROGRAMS ?= 5000
FUZZ_STATEFUL ?= 500
FUZZ_REALISTIC ?= 2000
FUZZ_SEED ?= 0
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --programs $(FUZZ_PROGRAMS) --stateful $(FUZZ_STATEFUL) \
		--realistic $(FUZZ_REALISTIC) --seed $(FUZZ_SEED) --out fuzz-findings.md

$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[demo]'
	touch $(DEMO_STAMP)

$(DOCS_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m chainrule demo

docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/basedpyright

# issue 12's workloads against torch: one process, one thread each, interleaved rounds
# (chainrule's native and NumPy kernels, torch eager, torch.compile), then each framework
# in its own process with its default threads; never part of `make test`
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --compiled
	$(BIN)/python benchmarks/bench.py --multicore
	$(BIN)/python benchmarks/distributed.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info site demo-output
