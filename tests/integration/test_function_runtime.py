"""The Lambda-like runtime: each function in its own processes, with exactly its own environment,
its layers on the path, errors reported by type, timeouts enforced and environments replaced."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from local.functions import NO_ZYGOTE_ENV, FunctionConfig, InvocationError, LocalFunction
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
        if action == "powertools":  # read from the environment when Powertools is imported
            from aws_lambda_powertools.shared import user_agent
            return user_agent.EXEC_ENV
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


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


linux_only = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="environments are forked only where pidfds exist")


@linux_only
def test_a_forked_environment_imports_powertools_with_its_own_environment(tmp_path: Path, function_dirs) -> None:
    function = make_function(tmp_path, function_dirs, {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"})
    try:
        pid = function.invoke({"action": "env", "name": "X"})["pid"]
        assert "local.function_zygote" in _command(_parent(pid))
        # The zygote did not import Powertools: it reads AWS_EXECUTION_ENV at import, from the function.
        assert function.invoke({"action": "powertools"}) == "AWS_Lambda_python3.13"
    finally:
        function.close()


@linux_only
def test_a_killed_zygote_is_replaced_by_the_next_environment(tmp_path: Path, function_dirs) -> None:
    first = make_function(tmp_path, function_dirs, {"SETTING": "one"})
    try:
        zygote = _parent(first.invoke({"action": "env", "name": "X"})["pid"])
        assert "local.function_zygote" in _command(zygote)
        os.kill(zygote, signal.SIGKILL)
        second = make_function(tmp_path, function_dirs, {"SETTING": "two"})
        try:
            answer = second.invoke({"action": "env", "name": "SETTING"})
            assert answer["value"] == "two"
            assert _parent(answer["pid"]) != zygote
        finally:
            second.close()
        assert first.invoke({"action": "env", "name": "SETTING"})["value"] == "one"  # its environment lives on
    finally:
        first.close()


def test_without_the_zygote_each_environment_is_a_new_interpreter(tmp_path: Path, function_dirs, monkeypatch) -> None:
    monkeypatch.setenv(NO_ZYGOTE_ENV, "1")
    function = make_function(tmp_path, function_dirs, {"SETTING": "own"})
    try:
        answer = function.invoke({"action": "env", "name": "SETTING"})
        assert answer["value"] == "own"
        if hasattr(os, "pidfd_open"):
            assert "local.function_runtime" in _command(answer["pid"])
    finally:
        function.close()
