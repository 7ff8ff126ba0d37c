# The two commands that matter: `make demo` (the main job) and `make test` (the suite).
# Both create the virtualenv and install what they need on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: help venv sysdeps demo test bench bench-save bench-compare mock clean

help:
	@echo "make demo           start the mocks and run a time-compressed demo batch, printing its table"
	@echo "make test           create the virtualenv, install everything, run the test suite"
	@echo "make bench          run the performance benchmarks (tests/benchmarks)"
	@echo "make bench-save     run them and save the results as the new baseline"
	@echo "make bench-compare  run them and fail when a recorded figure regresses against the baseline"
	@echo "                    (BASELINE=FILE, default tests/benchmarks/baseline/baseline.json; BENCH_FILES=...)"
	@echo "make mock           serve every mock provider on http://127.0.0.1:8080"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing)." \
	       "Install python3.11 (or newer) and run make PYTHON=python3.11 ..." >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "error: '$(PYTHON) -m venv' failed: on Debian/Ubuntu install python3-venv (make sysdeps does)" >&2; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

# No stamp: the script checks the commands themselves each time (milliseconds when all are
# there), so a cached or copied .venv can never hide a missing Debian package.
sysdeps:
	bash scripts/system-deps.sh

# DEMO_ARGS: e.g. "--budget 1 --out /tmp/demo" (tests/test_make_demo.py runs it shorter)
demo: venv
	$(PY) -m harness demo $(DEMO_ARGS)

test: sysdeps venv
	$(PY) -m pytest -q -m "not bench" tests

BENCH_FILES ?= tests/benchmarks
BENCH_ARGS = $(BENCH_FILES) -m bench -q --benchmark-only --benchmark-columns=min,median,max,rounds --benchmark-storage=file://.benchmarks
# The committed baseline (one file, whatever the machine id), so bench-compare works on a fresh clone.
BASELINE ?= tests/benchmarks/baseline/baseline.json
CURRENT := .benchmarks/current.json

bench: sysdeps venv
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-autosave

# Saved under .benchmarks/new-baseline first, so a failed run leaves the old baseline alone.
bench-save: sysdeps venv
	rm -rf .benchmarks/new-baseline
	$(PY) -m pytest $(BENCH_ARGS) --benchmark-storage=file://.benchmarks/new-baseline --benchmark-save=baseline
	mkdir -p $(dir $(BASELINE))
	cp $$(ls .benchmarks/new-baseline/*/*_baseline.json | tail -1) $(BASELINE)

# The benchmarks' own bars, then every figure they record (extra_info["figures"]) against the
# baseline's, each with its direction and tolerance (harness/benchmarking/compare.py). Fails if
# either fails; a stale results file is never compared.
bench-compare: sysdeps venv
	@mkdir -p .benchmarks && rm -f $(CURRENT)
	@rc=0; $(PY) -m pytest $(BENCH_ARGS) --benchmark-json=$(CURRENT) || rc=1; \
	$(PY) -m harness.benchmarking.compare $(BASELINE) $(CURRENT) || rc=1; exit $$rc

mock: venv
	$(PY) -m harness mock

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks build *.egg-info
