"""bench/make_test_time.py reads the Makefile's own pytest command and sums durations per file."""

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("make_test_time", REPO_ROOT / "bench" / "make_test_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pytest_arguments_are_the_makefiles(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("x:\n\techo\ntest: setup\n\t$(BIN)/python -m pytest -n auto --dist loadfile\n")
    assert _bench().pytest_arguments(makefile) == ["-n", "auto", "--dist", "loadfile"]
    assert "--dist" in _bench().pytest_arguments(REPO_ROOT / "Makefile")


def test_the_recipes_environment_assignments_are_applied_too(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("test: setup\n\tPYTHONDONTWRITEBYTECODE= FOO=bar $(BIN)/python -m pytest -n 4\n")
    assert _bench().recipe_environment(makefile) == {"PYTHONDONTWRITEBYTECODE": "", "FOO": "bar"}
    assert _bench().pytest_arguments(makefile) == ["-n", "4"]


def test_durations_are_summed_per_file_set_up_included():
    output = ("3.50s setup    tests/a.py::test_one\n2.00s call     tests/a.py::test_one\n"
              "4.00s call     tests/b.py::test_two[x]\n0.50s teardown tests/a.py::test_one\n")
    assert _bench().slowest_files(output, 2) == [("tests/a.py", 6.0), ("tests/b.py", 4.0)]
