# Quick start: `make suites` runs the example suites against the tiny Dolly; `make test` runs the tests.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: suites test test-slow lint bench gpu-check-cpu clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[local,openai,review,train,strategies,data,dev]'
	touch $(STAMP)

suites: $(STAMP)
	$(BIN)/pytest --promptcheck suites/

test: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow" tests

# The slow tests check the shipped tiny Dolly models' measured figures, rebuild one from scratch to
# check the recipe (about six minutes on two cores) and run adapt end to end on the tiny Dolly
# (fourteen minutes on two busy cores): expect most of an hour in all.
test-slow: $(STAMP)
	$(BIN)/pytest -n 2 -m slow tests

lint: $(STAMP)
	$(BIN)/ruff check src tests plugins benchmarks
	$(BIN)/ruff format --check src tests plugins benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python benchmarks/runner_throughput.py

# The GPU check's code on tiny shapes on the CPU (docs/gpu-check.md); on a lent GPU machine run
# benchmarks/gpu_check.py itself.
gpu-check-cpu: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py --cpu --tiny --out gpu-check

clean:
	rm -rf $(VENV) .promptcheck .pytest_cache .mypy_cache .ruff_cache
