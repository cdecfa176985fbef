# The two commands: `make run` (everything, in the foreground) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint typecheck unit integration e2e browser faults deploy-check lock render clean up down

install:
	@scripts/bootstrap.sh

run: install
	$(PY) -m devstack run

# The images first (built or stood in where missing, cached), so that no test waits for a build;
# then every test, the container ones (tests/containers) included.
test: install lint typecheck
	$(PY) -m devstack.containers images
	$(PY) -m pytest -q -rs --durations=15

# The compose stack in containers (Docker, or podman set up here): 8000/8001/8333, dev token printed.
up: install
	$(PY) -m devstack.containers up

down: install
	$(PY) -m devstack.containers down

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy shared services devstack tests bench clients/python/src

unit: install
	$(PY) -m pytest -q tests/unit

integration: install
	$(PY) -m pytest -q -rs tests/integration

e2e: install
	$(PY) -m pytest -q -rs tests/e2e

# The File Manager page and Uppy 6 in Debian's Chromium against the five services
# (SCREENSHOTS_DIR=docs/screenshots keeps the screenshots)
browser: install
	$(PY) -m pytest -q -rs --durations=10 tests/browser

# The fault suite (tests/faults, docs/RELIABILITY.md): the five services against a private RabbitMQ
# node, SeaweedFS and PostgreSQL cluster that it stops and starts; every scenario, the long ones too
# (`make test` runs only the short ones: the 30 s database outage and the poison messages).
faults: install
	$(PY) -m pytest -q -rs --durations=20 -m faults tests/faults

# Containers and manifests, offline: hadolint, compose, `kubectl kustomize` of every overlay,
# kubernetes-validate --strict and the checks on the rendered objects (also part of `make test`).
deploy-check: install
	$(PY) -m pytest -q -rs tests/deploy

# The runtime dependencies pinned for the image (and as constraints for .venv): run after editing
# pyproject.toml's dependencies. Not through `install`, which needs a lock that agrees with them.
lock:
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check 'pip-tools>=7.4'
	$(VENV)/bin/pip-compile --quiet --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		--strip-extras --output-file requirements.lock pyproject.toml

# Print an overlay as `kubectl apply -k` would send it: make render OVERLAY=dev
OVERLAY ?= dev
render: install
	$(VENV)/bin/kubectl kustomize deploy/k8s/overlays/$(OVERLAY)

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache

# Every benchmark in one run, written to docs/BENCHMARKS.md (one step per module in bench/__main__.py).
.PHONY: bench
bench: install
	@bench/setup.sh
	$(PY) -m bench --output docs/BENCHMARKS.md
