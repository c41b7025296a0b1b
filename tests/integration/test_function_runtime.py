"""The Lambda-like runtime: each function in its own processes, with exactly its own environment,
its layers on the path, errors reported by type, timeouts enforced and environments replaced."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from local.functions import FunctionConfig, InvocationError, LocalFunction
from local.template import FunctionSpec

HANDLER = textwrap.dedent(
    """
    import os, sys, time
    import shared_helper  # from the layer

    STARTS = []

    def handler(event, context):
        action = event.get("action")
        if action == "env":
            return {"value": os.environ.get(event["name"]), "pid": os.getpid()}
        if action == "context":
            return {"remaining": context.get_remaining_time_in_millis(), "name": context.function_name,
                    "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb}
        if action == "print":
            print("this goes to the log, not the protocol")
            return {"layer": shared_helper.VALUE}
        if action == "raise":
            raise KeyError(event["nik"])  # a message that must not leave the function's process
        if action == "sleep":
            time.sleep(event["seconds"])
            return "slept"
        if action == "path":
            return sys.path[:2]
        return event
    """
)


@pytest.fixture
def function_dirs(tmp_path: Path) -> tuple[Path, Path]:
    code = tmp_path / "code"
    layer = tmp_path / "layer"
    code.mkdir()
    layer.mkdir()
    (code / "app.py").write_text(HANDLER)
    (layer / "shared_helper.py").write_text("VALUE = 'from the layer'\n")
    return code, layer


def make_function(tmp_path: Path, dirs: tuple[Path, Path], env: dict[str, str], *, timeout: int = 5, concurrency: int = 1) -> LocalFunction:
    code, layer = dirs
    spec = FunctionSpec(
        logical_id="TestFunction", code_dir=code, handler_module="app", handler_function="handler",
        layer_dirs=(layer,), environment=env, timeout_seconds=timeout, memory_mb=256,
    )
    import os

    return LocalFunction(
        FunctionConfig(
            spec=spec,
            environment={"PATH": os.environ["PATH"], **env},
            function_name="stack-TestFunction",
            function_arn="arn:aws:lambda:r:1:function:stack-TestFunction",
            log_path=tmp_path / "logs" / "TestFunction.log",
            max_concurrency=concurrency,
        )
    )


def test_environment_is_exactly_the_functions_own(tmp_path: Path, function_dirs) -> None:
    one = make_function(tmp_path, function_dirs, {"SETTING": "one"})
    two = make_function(tmp_path, function_dirs, {"SETTING": "two"})
    try:
        assert one.invoke({"action": "env", "name": "SETTING"})["value"] == "one"
        assert two.invoke({"action": "env", "name": "SETTING"})["value"] == "two"
        # Nothing leaks in from the parent (pytest's environment has HOME, PYTEST_* ...).
        assert one.invoke({"action": "env", "name": "PYTEST_CURRENT_TEST"})["value"] is None
    finally:
        one.close()
        two.close()


def test_code_dir_then_layers_on_the_path_and_output_kept_off_the_protocol(tmp_path: Path, function_dirs) -> None:
    function = make_function(tmp_path, function_dirs, {})
    try:
        code, layer = function_dirs
        assert function.invoke({"action": "path"}) == [str(code), str(layer)]
        assert function.invoke({"action": "print"}) == {"layer": "from the layer"}
        assert function.invoke({"plain": [1, "two"]}) == {"plain": [1, "two"]}
    finally:
        function.close()
    assert "this goes to the log" in (tmp_path / "logs" / "TestFunction.log").read_text()


def test_context_reports_name_memory_and_remaining_time(tmp_path: Path, function_dirs) -> None:
    function = make_function(tmp_path, function_dirs, {}, timeout=7)
    try:
        context = function.invoke({"action": "context"})
    finally:
        function.close()
    assert context["name"] == "stack-TestFunction"
    assert context["memory"] == 256
    assert context["arn"].endswith(":function:stack-TestFunction")
    assert 0 < context["remaining"] <= 7000


def test_errors_cross_as_type_only_and_the_environment_is_reused(tmp_path: Path, function_dirs) -> None:
    function = make_function(tmp_path, function_dirs, {})
    try:
        pid = function.invoke({"action": "env", "name": "X"})["pid"]
        with pytest.raises(InvocationError) as raised:
            function.invoke({"action": "raise", "nik": "3171234567890001"})
        assert raised.value.error_type == "KeyError"
        assert "3171234567890001" not in str(raised.value)
        assert function.invoke({"action": "env", "name": "X"})["pid"] == pid  # still warm
    finally:
        function.close()
    log_text = (tmp_path / "logs" / "TestFunction.log").read_text()
    assert "KeyError" in log_text
    assert "3171234567890001" not in log_text


def test_timeout_kills_and_replaces_the_environment(tmp_path: Path, function_dirs) -> None:
    function = make_function(tmp_path, function_dirs, {}, timeout=1)
    try:
        pid = function.invoke({"action": "env", "name": "X"})["pid"]
        with pytest.raises(InvocationError, match="Task timed out"):
            function.invoke({"action": "sleep", "seconds": 30})
        assert function.invoke({"action": "env", "name": "X"})["pid"] != pid
        assert function.errors == 1
    finally:
        function.close()


def test_a_handler_that_cannot_import_fails_at_warm_up(tmp_path: Path, function_dirs) -> None:
    code, _ = function_dirs
    (code / "app.py").write_text("import module_that_does_not_exist\n")
    function = make_function(tmp_path, function_dirs, {})
    try:
        with pytest.raises(InvocationError, match="init failed: ModuleNotFoundError"):
            function.warm_up()
    finally:
        function.close()
