# Two commands matter: `make demo` and `make test`. Each installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

SCENARIO ?= outage
RESILIENCE ?= full
USERS ?=
DURATION ?=
WORKERS ?=
DETECTION ?=
GATEWAY_URL ?=
PLATFORM_URL ?=
CONTROL_URL ?=

.PHONY: install test demo load stop bench clean

# The demo needs only the runtime packages (a quicker first install); tests add the dev extra.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(RUN_STAMP)
	$(BIN)/python -m loadtests demo $(if $(DURATION),--duration $(DURATION))

load: $(RUN_STAMP)
	@$(BIN)/python -m loadtests run --scenario $(SCENARIO) --resilience $(RESILIENCE) \
		$(if $(USERS),--users $(USERS)) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(WORKERS),--workers $(WORKERS)) $(if $(DETECTION),--detection $(DETECTION)) \
		$(if $(GATEWAY_URL),--gateway-url $(GATEWAY_URL)) $(if $(PLATFORM_URL),--platform-url $(PLATFORM_URL)) \
		$(if $(CONTROL_URL),--control-url $(CONTROL_URL))

# Stops what an earlier `make load`/`make demo` left running (normally nothing: what they start dies with them).
stop: $(RUN_STAMP)
	$(BIN)/python -m loadtests stop

bench: $(STAMP)
	$(BIN)/python benchmarks/platform_bench.py
	$(BIN)/python benchmarks/gateway_bench.py

clean:
	rm -rf $(VENV) reports .pytest_cache
