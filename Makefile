# The two commands: `make run` (everything, in the foreground) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint typecheck unit integration e2e clean

install:
	@scripts/bootstrap.sh

run: install
	$(PY) -m devstack run

test: install lint typecheck
	$(PY) -m pytest -q -rs --durations=15

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy shared services devstack tests bench

unit: install
	$(PY) -m pytest -q tests/unit

integration: install
	$(PY) -m pytest -q -rs tests/integration

e2e: install
	$(PY) -m pytest -q -rs tests/e2e

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench
bench: install
	$(PY) -m bench.width_latency
