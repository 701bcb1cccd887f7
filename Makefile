# Two set-up commands for a fresh machine (see README):
#   make demo   runs the main job on the audio shipped in data/
#   make test   runs ruff, the type checker (mypy) and the whole test suite
#   make quick  runs ruff and the tests not marked slow (subprocess, benchmark runner,
#               training), with fewer hypothesis examples: the edit-test loop
#   make docs   builds the documentation site into out/docs (warnings are errors; the
#               gallery runs examples/*.py); open out/docs/index.html
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

DOCS_OUT := out/docs

.PHONY: demo test quick typecheck bench bench-smoke docs clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(PY) -m wavedil filter data/effect_model.npz data/guitar_test.wav out/guitar_fx.wav --block 256 --check
	$(PY) -m wavedil denoise data/speech_noisy.wav out/speech_denoised.wav --block 256 --check

test: $(STAMP)
	$(PY) -m ruff check wavedil tests examples benchmarks scripts docs
	$(PY) -m mypy
	$(PY) -m pytest -q

quick: $(STAMP)
	$(PY) -m ruff check wavedil tests examples benchmarks scripts docs
	WAVEDIL_QUICK=1 $(PY) -m pytest -q -m "not slow"

typecheck: $(STAMP)
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-smoke: $(STAMP)
	$(PY) benchmarks/run.py --smoke --output out/RESULTS-smoke.md

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs $(DOCS_OUT)
	@echo "the site: $(DOCS_OUT)/index.html"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache out
	rm -rf docs/gallery docs/api/generated docs/sg_execution_times.rst
