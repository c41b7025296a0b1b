"""The Lambda-like runtime one local function runs in (a child process per execution environment).

Started by :mod:`local.functions` as ``python -m local.function_runtime`` with exactly the
environment the template gives the function. Like Lambda, it puts the function's code directory
and its layers first on ``sys.path``, imports the handler once (the init phase) and then serves
invocations one at a time.

Protocol: one JSON object per line. The parent writes ``{"event": ..., "request_id": ...}`` to
stdin; the runtime answers on the *original* stdout with ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_type": ...}``. Everything the handler prints or logs goes to stderr (the
function's log file), because file descriptor 1 is pointed at stderr before any import.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from local import lifeline

SPEC_ENV = "KTP_LOCAL_FUNCTION_SPEC"


class LambdaContext:
    """The attributes and method handlers use from Lambda's context object."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline: float) -> None:
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["function_arn"]
        self.memory_limit_in_mb = int(spec["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _protocol_stream() -> Any:
    """Keep the original stdout for the protocol and send fd 1 to stderr for everything else."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    return protocol


def _load_handler(spec: dict[str, Any]) -> Any:
    code_dir = spec["code_dir"]
    # Lambda's order: the function's code (/var/task), then the layers (/opt/python). The repo root
    # that made `local` importable is removed so a handler cannot lean on files Lambda won't have.
    repo_root = str(Path(__file__).resolve().parent.parent)
    sys.path[:] = [code_dir, *spec["layer_dirs"], *(p for p in sys.path if p not in ("", ".", repo_root, os.getcwd()))]
    module_path = Path(code_dir) / (spec["handler_module"].replace(".", "/") + ".py")
    module_spec = importlib.util.spec_from_file_location(spec["handler_module"], module_path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {module_path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[spec["handler_module"]] = module
    module_spec.loader.exec_module(module)
    return getattr(module, spec["handler_function"])


def _log_error(error: BaseException) -> None:
    """Type and stack only: exception messages (pydantic's especially) can quote the payload,
    and a payload can hold personal data."""
    if os.environ.get("KTP_LOCAL_DEBUG_ERRORS") == "1":  # opt-in for debugging with synthetic data only
        traceback.print_exception(error)
        return
    stack = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
    print(f"[ERROR] {type(error).__module__}.{type(error).__name__} (message withheld)\n{stack}", file=sys.stderr, flush=True)


def main() -> int:
    # Ctrl-C in the terminal reaches the whole process group; the stack stops us itself (closing
    # stdin) so an invocation in flight can finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Gone with the stack however it ends (kill -9 too), even in the middle of an invocation.
    lifeline.watch(lambda: os._exit(1))
    protocol = _protocol_stream()
    spec = json.loads(os.environ[SPEC_ENV])

    def send(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message, separators=(",", ":"), default=str) + "\n")
        protocol.flush()

    try:
        handler = _load_handler(spec)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which shows the log file
        traceback.print_exc()  # init failures are code problems (imports, syntax): show them whole
        send({"ready": False, "error_type": type(error).__name__})
        return 1
    send({"ready": True})

    for line in sys.stdin:
        request = json.loads(line)
        deadline = time.monotonic() + float(request.get("timeout_seconds", spec["timeout_seconds"]))
        context = LambdaContext(spec, request["request_id"], deadline)
        try:
            result = handler(request["event"], context)
            send({"ok": True, "result": result})
        except Exception as error:  # noqa: BLE001 - an invocation error, like Lambda's "Unhandled"
            # The traceback goes to the function's log; only the exception type crosses to the
            # parent, whose log must never carry personal data from an exception message.
            _log_error(error)
            send({"ok": False, "error_type": type(error).__name__})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
