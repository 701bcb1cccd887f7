# Two set-up commands for a fresh machine (see README):
#   make demo   runs the main job on the audio shipped in data/
#   make test   runs ruff and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-smoke clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m ruff check wavedil tests examples benchmarks scripts
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-smoke: $(STAMP)
	$(PY) benchmarks/run.py --smoke --output out/RESULTS-smoke.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis out
