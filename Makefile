# Two commands do all set-up on a fresh machine with Python >= 3.11:
#   make run    install, then start the web page and API (molmtl serve) on http://127.0.0.1:$(PORT)/
#               and print that address; Ctrl-C stops it (the QM9 cache is built on first use)
#   make test   install, then run the test suite (slow and GPU tests are skipped; see README)
#   make demo   the terminal tour: QM9 summary, then the shipped model's prediction for a SMILES
#   make vendor-js  refresh the page's vendored JavaScript from npm (package.json; needs npm, not needed to run)
# torch is installed first, explicitly, so that pip never pulls a multi-GB CUDA build on a CPU box.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.molmtl-installed
PYTEST_ARGS ?=
PORT ?= 8000
VENDOR := src/molmtl/app/static/vendor
NPM_DIR := build/npm

.PHONY: run demo test install bench clean-venv vendor-js

run: $(STAMP)
	$(VENV)/bin/molmtl serve --port $(PORT)

demo: $(STAMP)
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

# The page loads no script from a CDN: 3Dmol.js and Swagger UI are copied from npm (versions pinned in
# package.json / package-lock.json) into the package, with their licences, and committed.
vendor-js: package.json package-lock.json
	mkdir -p $(NPM_DIR) $(VENDOR)
	cp package.json package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	cp $(NPM_DIR)/node_modules/3dmol/build/3Dmol-min.js $(VENDOR)/
	cp $(NPM_DIR)/node_modules/3dmol/LICENSE $(VENDOR)/3Dmol.LICENSE.txt
	cp $(NPM_DIR)/node_modules/swagger-ui-dist/swagger-ui-bundle.js $(NPM_DIR)/node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	cp $(NPM_DIR)/node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui.LICENSE.txt
	cp $(NPM_DIR)/node_modules/swagger-ui-dist/NOTICE $(VENDOR)/swagger-ui.NOTICE.txt
	cp $(NPM_DIR)/node_modules/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt $(VENDOR)/swagger-ui-bundle.js.LICENSE.txt
