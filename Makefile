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

demo: venv
	$(PY) -m harness demo

test: venv sysdeps
	$(PY) -m pytest -q -m "not bench" tests

BENCH_ARGS = tests/benchmarks -m bench -q --benchmark-only --benchmark-columns=min,median,max,rounds --benchmark-storage=file://.benchmarks

bench: venv sysdeps
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-autosave

bench-save: venv sysdeps
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-save=baseline

bench-compare: venv sysdeps
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-compare=$$(ls .benchmarks/*/*_baseline.json | tail -1 | xargs basename | cut -d_ -f1) --benchmark-compare-fail=median:10%

mock: venv
	$(PY) -m harness mock

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks/*/*[!e].json build *.egg-info
