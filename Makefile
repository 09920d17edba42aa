# Two commands for a fresh machine: `make run` and `make test`. Each builds its own
# virtualenv in .venv from pyproject.toml, so nothing installed by hand is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test typecheck bench bench-ledger schema snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/pip install --quiet --group dev -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kpi-context serve --http --data-dir data --dataset sample=sample_ledger.csv --profile profiles/example.json

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest -q

# The official MCP Inspector CLI and the Node 22 it needs, pinned, in .tools/node/ (gitignored).
# tests/server/test_inspector.py runs the same script itself, so `make test` needs nothing more.
.PHONY: inspector
inspector:
	scripts/install_inspector.sh

# mypy cannot follow setuptools' editable-install import hook, so it checks the package
# through a tree of symlinks laid out as the installed package is.
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/kpi_context
	cp kpi_context/__init__.py build/typecheck/kpi_context/
	for d in ontology tools server; do ln -s ../../../$$d build/typecheck/kpi_context/$$d; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml --explicit-package-bases $$(find -L kpi_context -name "*.py" | sort)

bench: $(STAMP)
	$(BIN)/python -m bench.tool_latency

bench-ledger: $(STAMP)
	$(BIN)/python -m bench.ledger

# The scaling table's 20,000,000-line row (about 2.5 GB of CSV under data/generated/, gitignored; long).
.PHONY: bench-ledger-20m
bench-ledger-20m: $(STAMP)
	$(BIN)/python -m bench.ledger --scaling-only --sizes 20000000

# ARR, NRR and the bridge on 1,000,000 lines on DuckDB, PostgreSQL (a throwaway server) and Spark (local[2]).
.PHONY: bench-engines
bench-engines: $(STAMP)
	$(BIN)/python -m bench.engines

# 32 official clients over HTTP for 60 s against the single process, then against --workers 2 (same run).
.PHONY: bench-load bench-soak
bench-load: $(STAMP)
	$(BIN)/python -m bench.load --clients 32 --seconds 60 --workers 2

# 8 HTTP clients for ten minutes; the server's RSS is sampled and its slope reported.
bench-soak: $(STAMP)
	$(BIN)/python -m bench.soak --clients 8 --seconds 600

# 10,000 generated argument sets in memory and over stdio; every figure it prints must be zero.
.PHONY: bench-fuzz
bench-fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz --calls 10000

# Precision and recall of check_narrative on the hand-written corpus, per finding code.
.PHONY: bench-narrative chart-example
bench-narrative: $(STAMP)
	$(BIN)/python -m bench.narrative

# The README's example chart: the sample ledger's Q3 2026 ARR bridge, rendered on the server.
chart-example: $(STAMP)
	$(BIN)/python -m bench.render_example docs/arr_bridge.png

# Characters an LLM reads in a fixed board-prep session, against the first release (57fba06).
.PHONY: bench-context
bench-context: $(STAMP)
	$(BIN)/python -m bench.context_cost

# Regenerate committed artefacts after an intended change (the tests fail on drift).
schema: $(STAMP)
	$(BIN)/kpi-context ontology schema --write
	$(BIN)/kpi-context profile schema

snapshot: $(STAMP)
	$(BIN)/python -m kpi_context.server.surface --write

clean:
	rm -rf $(VENV) build *.egg-info
