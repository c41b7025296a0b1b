# Two commands for a fresh machine (only Python 3.11+ and make needed):
#   make demo   set everything up, then run the whole pipeline locally on generated cards
#   make test   set everything up, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test bench clean

$(VENV)/.installed: requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/ktp demo

# 3 workers on 2 cores: the stack tests spend much of their time waiting on schedules, and a
# waiting worker leaves its core to another. A fourth worker cost more than it overlapped (2 cores,
# bench/make_test_time.py: 4 workers 182 s wall, 354 CPU-s; 3 workers 166 s, 294 CPU-s: processes
# competing for the cores each take longer in CPU too). --no-loadscope-reorder keeps tests/conftest.py's order.
# Bytecode is written (into git-ignored __pycache__ folders) even where the shell sets
# PYTHONDONTWRITEBYTECODE: the suite starts ~150 Python processes, and each would compile the
# project's modules (and pytest rewrite every test module) from source again.
test: setup
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder

# Benchmarks print tables (they are never part of the tests).
bench: setup
	$(BIN)/python bench/cold_imports.py
	$(BIN)/python bench/ocr_accuracy.py
	$(BIN)/python bench/service_throughput.py
	$(BIN)/python bench/pipeline_e2e.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache
