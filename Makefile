# Two commands do everything on a fresh machine: `make run-scenario` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SCENARIO  ?= scenarios/exported-keys-in-script.yaml
TEAM      ?= blue
RESPONDER ?= human
OUT       ?= runs/$(basename $(notdir $(SCENARIO)))-$(TEAM)

.PHONY: install run-scenario test lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run-scenario: $(STAMP)
	$(BIN)/gameday validate $(SCENARIO)
	$(BIN)/gameday build-repo $(SCENARIO) --out $(OUT)

test: $(STAMP)
	$(BIN)/ruff check gameday tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache runs .bench
