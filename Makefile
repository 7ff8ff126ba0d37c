# The two commands that matter: `make demo` (the main job) and `make test` (the suite).
# Both create the virtualenv and install what they need on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SYSDEPS := $(VENV)/.sysdeps-stamp

.PHONY: help venv sysdeps demo test bench bench-save bench-compare mock clean

help:
	@echo "make demo           start the mocks and run a time-compressed demo batch, printing its table"
	@echo "make test           create the virtualenv, install everything, run the test suite"
	@echo "make bench          run the performance benchmarks (tests/benchmarks)"
	@echo "make bench-save     run them and save the results as the new baseline"
	@echo "make bench-compare  run them and fail on a regression > 10% against the saved baseline"
	@echo "make mock           serve every mock provider on http://127.0.0.1:8080"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

$(SYSDEPS): scripts/system-deps.sh
	bash scripts/system-deps.sh
	@mkdir -p $(VENV) && touch $(SYSDEPS)

sysdeps: $(SYSDEPS)

# DEMO_ARGS: e.g. "--budget 1 --out /tmp/demo" (tests/test_make_demo.py runs it shorter)
demo: venv
	$(PY) -m harness demo $(DEMO_ARGS)

test: venv sysdeps
	$(PY) -m pytest -q -m "not bench" tests

BENCH_ARGS = tests/benchmarks -m bench -q --benchmark-only --benchmark-columns=min,median,max,rounds --benchmark-storage=file://.benchmarks
# The committed baseline (one file, whatever the machine id), so bench-compare works on a fresh clone.
BENCH_BASELINE = tests/benchmarks/baseline/baseline.json

bench: venv sysdeps
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-autosave

# Saved under .benchmarks/new-baseline first, so a failed run leaves the old baseline alone.
bench-save: venv sysdeps
	rm -rf .benchmarks/new-baseline
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-storage=file://.benchmarks/new-baseline --benchmark-save=baseline
	mkdir -p $(dir $(BENCH_BASELINE))
	cp $$(ls .benchmarks/new-baseline/*/*_baseline.json | tail -1) $(BENCH_BASELINE)

bench-compare: venv sysdeps
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-compare=$(BENCH_BASELINE) --benchmark-compare-fail=median:10%

mock: venv
	$(PY) -m harness mock

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks build *.egg-info
