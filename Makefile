# retained-mrr developer targets. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: help venv lint test test-fast kafka-up kafka-down kafka-status prometheus demo schemas clean

help:
	@echo "make demo        run the whole thing locally: Kafka, worker, 12 months of history, live table"
	@echo "make test        lint + every test against a real Kafka and a real Prometheus (what CI runs)"
	@echo "make test-fast   only the tests that need neither Kafka nor Prometheus"
	@echo "make lint        ruff + mypy"
	@echo "make kafka-up    start the local single-node Kafka (scripts/kafka-local start)"
	@echo "make kafka-down  stop it"
	@echo "make kafka-status  say whether it answers"
	@echo "make schemas     regenerate schemas/*.schema.json from the pydantic models"

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check stream schemas tests scripts
	$(VENV)/bin/ruff format --check stream schemas tests scripts
	$(VENV)/bin/mypy

prometheus:
	scripts/ensure-prometheus

# The pytest session fixture starts the local broker when none answers and stops
# it again at the end, so `make test` leaves running only what was running before.
test: venv prometheus lint
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not kafka and not prometheus"

kafka-up:
	scripts/kafka-local start

kafka-down:
	scripts/kafka-local stop

kafka-status:
	scripts/kafka-local status

schemas: venv
	$(VENV)/bin/retained-mrr schemas

demo: venv
	scripts/demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
