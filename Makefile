# kdbench — the front door. `make help` lists the targets.
# The first target that needs the environment creates .venv and installs into it.

PYTHON      ?= python3
VENV        ?= .venv
# The CPU build of torch; users with CUDA override, e.g. TORCH_SPEC="torch==2.13.0 --index-url ..."
TORCH_SPEC  ?= torch==2.13.0
EXP         ?= quick
RESULTS     ?= results
ARGS        ?=

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run test test-full sweep report figures lint clean

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing kdbench into $(VENV) (torch: $(TORCH_SPEC)) ..."
	@$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH_SPEC) 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c "import kdbench, torch, lightning, hydra" || { echo "install failed"; exit 1; }
	@touch $@

venv: $(STAMP)  ## create .venv and install kdbench (done by the other targets when needed)

run: $(STAMP)  ## the quick grid on the bundled digits data, then the report
	$(BIN)/kdbench -m experiment=quick $(ARGS); status=$$?; \
	$(BIN)/kdbench-report $(RESULTS)/quick; exit $$status

sweep: $(STAMP)  ## a named grid: make sweep EXP=<experiment> [ARGS="key=value ..."]
	$(BIN)/kdbench -m experiment=$(EXP) $(ARGS); status=$$?; \
	$(BIN)/kdbench-report $(RESULTS)/$(EXP); exit $$status

report: $(STAMP)  ## tables and figures for a sweep: make report EXP=<experiment>
	$(BIN)/kdbench-report $(RESULTS)/$(EXP)

figures: report  ## figures for a sweep (written by the report)

test: $(STAMP)  ## the fast test suite (a few minutes on 2 cores)
	$(BIN)/python -m pytest

test-full: $(STAMP)  ## every test, slow ones included
	$(BIN)/python -m pytest -m "slow or not slow"

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check kdbench tests
	$(BIN)/ruff format --check kdbench tests

clean:  ## remove caches and build outputs (keeps .venv and results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info outputs multirun lightning_logs
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
