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

.PHONY: install bytecode run-scenario demo test test-sweeps lint-scenarios bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m gameday.world.service_models
	@touch $(STAMP)

# Every process of a run (the run, its runbook's, each `gameday` command) imports the
# package: compiled once here, not at each start — also where PYTHONDONTWRITEBYTECODE is set,
# which stops Python from keeping what it compiles. Up-to-date files are skipped.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -j 0 gameday runbooks >/dev/null

# A team that misses the pass mark is a result, not a failure of the target (exit code 1).
run-scenario: bytecode
	$(BIN)/gameday run $(SCENARIO) --team $(TEAM) --responder $(RESPONDER) \
		--clock $(CLOCK) --speed $(SPEED) --seed $(SEED) || [ $$? -eq 1 ]

demo: bytecode
	$(BIN)/gameday run $(SCENARIO) --team reference --responder runbooks/reference.py \
		--clock virtual --seed $(SEED)

# One pytest worker per core and one more: a test that waits (a wall-clock run, a server
# starting, a subprocess) leaves its core to the spare worker. Measured on 2 cores: 198-217 s
# with 3 workers against 221-250 s with 2, run after run (4: no clear gain). Each worker
# holds a warm mock (≈0.7 GB by the suite's end): at most 8 cores' worth.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 8 ] && n=8; echo $$((n + 1)))

# mypy (10 s on a clean clone, a core's worth) checks types beside the tests rather than
# before them: the workers leave part of the cores idle while they wait. Its report follows
# the tests'; either failing fails the target.
test: bytecode
	$(BIN)/ruff check gameday tests bench
	@report=$$(mktemp); $(BIN)/mypy >"$$report" 2>&1 & types=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not sweep" tests; \
	tests=$$?; wait $$types; typed=$$?; echo "mypy:"; cat "$$report"; rm -f "$$report"; \
	[ $$tests -eq 0 ] && [ $$typed -eq 0 ]

# The sweeps repeat what `make test` checks on representative cases over the whole library,
# every kill point and five teams at once: minutes, not seconds. CI runs both.
test-sweeps: bytecode
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m sweep tests

# Each library scenario played by nobody and by the reference runbook: every warning fails.
lint-scenarios: bytecode
	$(BIN)/gameday validate --deep --strict scenarios/*.yaml

bench: bytecode
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache runs .bench
	find gameday runbooks tests bench -name __pycache__ -prune -exec rm -rf {} +
