# Two commands do everything on a fresh machine: `make run-scenario` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

SCENARIO  ?= scenarios/exported-keys-in-script.yaml
TEAM      ?= blue
RESPONDER ?= human
CLOCK     ?= wall
SPEED     ?= 1
SEED      ?= 0

.PHONY: install run-scenario demo test test-sweeps lint-scenarios bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# A team that misses the pass mark is a result, not a failure of the target (exit code 1).
run-scenario: $(STAMP)
	$(BIN)/gameday run $(SCENARIO) --team $(TEAM) --responder $(RESPONDER) \
		--clock $(CLOCK) --speed $(SPEED) --seed $(SEED) || [ $$? -eq 1 ]

demo: $(STAMP)
	$(BIN)/gameday run $(SCENARIO) --team reference --responder runbooks/reference.py \
		--clock virtual --seed $(SEED)

test: $(STAMP)
	$(BIN)/ruff check gameday tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -m "not sweep" tests

# The sweeps repeat what `make test` checks on representative cases over the whole library,
# every kill point and five teams at once: minutes, not seconds. CI runs both.
test-sweeps: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m sweep tests

# Each library scenario played by nobody and by the reference runbook: every warning fails.
lint-scenarios: $(STAMP)
	$(BIN)/gameday validate --deep --strict scenarios/*.yaml

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache runs .bench
