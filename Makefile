# The two commands of the README's Quick start, for a fresh machine with Python 3.11:
#   make demo   create .venv, install vcls_lite, train the default recipe on the built-in MNIST sample
#   make test   create .venv with the dev extras, check the library matches the notebooks, run pytest and nbdev_test
#   make test-fast   the quick loop (a few minutes): the export check, the unit tests and one train/eval/quantize run
#   make docs   build the docs site into _docs/ from the notebooks (no Quarto: nbdev's processing, then mkdocs)
#   make lab    open the notebooks in JupyterLab (installed into .venv with the project)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast export-check pytest nbtest readme docs lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A stamp per install flavour, so later runs skip pip when setup.py and settings.ini have not changed.
$(VENV)/.installed: setup.py settings.ini | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: setup.py settings.ini | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/vcls train --scale demo

$(VENV)/.installed-lab: setup.py settings.ini | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[lab,export]"
	touch $@

# JupyterLab on the notebooks, the project's venv as the kernel (as root, --allow-root; LAB_FLAGS: e.g. --no-browser)
lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab --notebook-dir=nbs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FLAGS)

# pytest and the notebooks side by side, each printing when it is done: most tests and notebooks spend their time in
# one thread (a process starting, a small model), so the two fill both cores. Threads that wait for work sleep
# instead of spinning (OpenMP's passive policy): with two jobs on two cores, a spinning thread takes the core the
# other job needs. Measured here on an installed venv: 6 min 50 s and 8 min in two runs (pytest the longer of the two,
# 12 GB at the peak); one after the other with spinning threads it was 19 min.
test: export OMP_WAIT_POLICY = PASSIVE
test: $(VENV)/.installed-dev
	$(MAKE) export-check
	$(MAKE) -j2 --output-sync=target pytest nbtest

# The quick loop: the tests marked slow (see pyproject.toml) and the notebooks are left to `make test`.
test-fast: $(VENV)/.installed-dev
	$(MAKE) export-check
	$(BIN)/pytest -q -rs -m "not slow" tests/

# nbdev_export must leave the library exactly as committed: the .py files are generated, never edited by hand.
export-check: $(VENV)/.installed-dev
	@snap=$$(mktemp -d) && cp -a vcls_lite $$snap/ && $(BIN)/nbdev_export && \
	if diff -r -q -x __pycache__ $$snap/vcls_lite vcls_lite; then rm -rf $$snap; echo "nbdev_export: vcls_lite/ is in sync with nbs/"; \
	else rm -rf $$snap; echo "nbdev_export changed vcls_lite/: edit the notebooks, run nbdev_export, commit both" >&2; exit 1; fi

# -rs prints why a test was skipped (the docs browser test, where Chromium is not installed).
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -q -rs tests/

# Every notebook, at smoke scale (nbdev_test sets IN_TEST). One notebook at a time: two at once beside pytest would
# ask for more threads than there are cores.
nbtest: $(VENV)/.installed-dev
	$(BIN)/nbdev_test --n_workers 1 --timing

readme: $(VENV)/.installed-dev
	$(BIN)/python tools/readme.py

docs: $(VENV)/.installed-dev
	$(BIN)/python tools/docs.py

clean:
	rm -rf $(VENV) runs .pytest_cache _proc _docs build
