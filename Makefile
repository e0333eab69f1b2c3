# Two commands do all set-up on a fresh machine with Python >= 3.11:
#   make run    install, then run the main job (QM9 summary, then the shipped model's prediction for a
#               SMILES beside its QM9 label; the QM9 cache is built on first use)
#   make test   install, then run the test suite (slow and GPU tests are skipped; see README)
# torch is installed first, explicitly, so that pip never pulls a multi-GB CUDA build on a CPU box.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.molmtl-installed
PYTEST_ARGS ?=

.PHONY: run test install bench clean-venv

run: $(STAMP)
	$(VENV)/bin/molmtl data info
	$(VENV)/bin/molmtl predict Fc1cccnc1

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

bench: $(STAMP)
	$(PY) benchmarks/bench_qm9_load.py

clean-venv:
	rm -rf $(VENV)
