# kdbench — the front door. `make help` lists the targets.
# The first target that needs the environment creates .venv and installs into it.

PYTHON      ?= python3
VENV        ?= .venv
# The CPU build of torch; users with CUDA override, e.g. TORCH_SPEC="torch==2.13.0 --index-url ..."
TORCH_SPEC  ?= torch==2.13.0
EXP         ?= quick
RESULTS     ?= results
ARGS        ?=
# pytest workers for `make test`/`make test-full` (pytest-xdist; `auto` = one per CPU core)
TEST_JOBS   ?= auto
TRIALS      ?=
# Benchmarks `make bench` runs, in order; each writes results/bench/<name>.md
BENCHES     ?= bench/latency.py bench/train_speed.py bench/grid_stream.py bench/compress.py bench/calibration.py

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
# The experiment folder `make report` reads: a name= in ARGS, else EXP
NAME   = $(or $(patsubst name=%,%,$(lastword $(filter name=%,$(ARGS)))),$(EXP))
# A grid, then the report of every folder its cells went to (kdbench writes them to
# $KDBENCH_FOLDERS_FILE, so RESULTS and a name= in ARGS decide both); the exit status is
# the grid's, else the report's.
define grid_then_report
	@folders=$$(mktemp); \
	KDBENCH_FOLDERS_FILE=$$folders $(BIN)/kdbench -m $(1) results_dir=$(RESULTS) $(ARGS); status=$$?; \
	for dir in $$(cat $$folders); do \
		$(BIN)/kdbench-report "$$dir" || { rc=$$?; [ $$status -ne 0 ] || status=$$rc; }; \
	done; rm -f $$folders; exit $$status
endef

.DEFAULT_GOAL := help
.PHONY: help venv run test test-full sweep tune report figures lint clean data profile bench

help:  ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

# One install at a time: two targets started at once on a fresh clone (`make run` and
# `make test`) would otherwise both run pip into the same .venv and one of them fail. The
# lock is a directory (mkdir is atomic everywhere, flock is not on macOS); the second waits,
# then finds the stamp fresh and installs nothing.
LOCK := $(VENV).lock

$(STAMP): pyproject.toml
	@until mkdir $(LOCK) 2>/dev/null; do \
		[ -n "$$waiting" ] || echo "waiting for another install into $(VENV) (none running? rmdir $(LOCK))"; \
		waiting=1; sleep 2; done; \
	trap 'rmdir $(LOCK)' EXIT; trap 'exit 130' INT TERM; \
	if [ -f $@ ] && [ $@ -nt pyproject.toml ]; then exit 0; fi; \
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || exit 1; \
	echo "installing kdbench into $(VENV) (torch: $(TORCH_SPEC)) ..."; \
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH_SPEC) 2>&1 | grep -v "is ignored"; \
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "is ignored"; \
	$(BIN)/python -c "import kdbench, torch, lightning, hydra" || { echo "install failed"; exit 1; }; \
	touch $@

venv: $(STAMP)  ## create .venv and install kdbench (done by the other targets when needed)

run: $(STAMP)  ## the quick grid on the bundled digits data, then the report [RESULTS=dir] [ARGS=...]
	$(call grid_then_report,experiment=quick)

sweep: $(STAMP)  ## a named grid: make sweep EXP=<experiment> [RESULTS=dir] [ARGS="key=value ..."]
	$(call grid_then_report,experiment=$(EXP))

tune: $(STAMP)  ## equal Optuna budget per method, then fresh seeds: make tune EXP=<experiment> [TRIALS=N] [ARGS=...]
	$(BIN)/kdbench-tune $(EXP) results_dir=$(RESULTS) $(if $(TRIALS),tune.trials=$(TRIALS)) $(ARGS)

report: $(STAMP)  ## tables and figures for a sweep: make report EXP=<experiment> [RESULTS=dir] [ARGS=name=...]
	$(BIN)/kdbench-report $(RESULTS)/$(NAME)

figures: report  ## figures for a sweep (written by the report)

profile: $(STAMP)  ## params, MFLOPs, size, latency (torch, ORT fp32/int8) of every model alone
	$(BIN)/kdbench-profile $(ARGS)

bench: $(STAMP)  ## benchmarks: latency ratios (ORT/eager, int8/fp32), training overhead (vs plain loop, KD/alone, shared teacher stream), T x alpha grid wall with/without the stream; results/bench/*.md
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

test: $(STAMP)  ## the fast test suite (a few minutes on 2 cores) [TEST_JOBS=N workers, default: one per core]
	$(BIN)/python -m pytest -n $(TEST_JOBS)

test-full: $(STAMP)  ## every test, slow ones included
	$(BIN)/python -m pytest -n $(TEST_JOBS) -m "slow or not slow"

data: $(STAMP)  ## CIFAR-10 (JPEG): verify, unpack and decode the shared archive into .cache/kdbench
	$(BIN)/python -c "from kdbench.data.cifar10_jpeg import main; main()"

lint: $(STAMP)  ## ruff check and format check
	$(BIN)/ruff check kdbench tests bench
	$(BIN)/ruff format --check kdbench tests bench

clean:  ## remove caches and build outputs (keeps .venv and results/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info outputs multirun lightning_logs
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
