# Two commands matter: `make demo` and `make test`. Each installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SCENARIO ?= outage
RESILIENCE ?= full
USERS ?=
DURATION ?=
WORKERS ?=

.PHONY: install test demo load bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m loadtests demo

load: $(STAMP)
	$(BIN)/python -m loadtests run --scenario $(SCENARIO) --resilience $(RESILIENCE) \
		$(if $(USERS),--users $(USERS)) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(WORKERS),--workers $(WORKERS))

bench: $(STAMP)
	$(BIN)/python benchmarks/platform_bench.py
	$(BIN)/python benchmarks/gateway_bench.py

clean:
	rm -rf $(VENV) reports .pytest_cache
