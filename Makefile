# Two commands for a fresh machine: `make run` and `make test`. Each builds its own
# virtualenv in .venv from pyproject.toml, so nothing installed by hand is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-ledger schema snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet --group dev -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kpi-context serve --http

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ontology tools server kpi_context
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.tool_latency

bench-ledger: $(STAMP)
	$(BIN)/python -m bench.ledger

# Regenerate committed artefacts after an intended change (the tests fail on drift).
schema: $(STAMP)
	$(BIN)/kpi-context ontology schema --write

snapshot: $(STAMP)
	$(BIN)/python -m kpi_context.server.surface --write

clean:
	rm -rf $(VENV) build *.egg-info
