"""Run a template function locally: a small pool of :mod:`local.function_runtime` child
processes (on Linux forked from :mod:`local.function_zygote`), each with the function's own
environment (so three functions with different settings and the same module name ``app`` never
share a process, as on Lambda)."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local import lifeline
from local.function_runtime import SPEC_ENV
from local.function_zygote import SOCKET_FD_ENV as ZYGOTE_SOCKET_ENV
from local.template import FunctionSpec

log = logging.getLogger("ktp.local.functions")

REPO_ROOT = Path(__file__).resolve().parent.parent
# Imports of boto3 + Powertools + pydantic can take several seconds on a busy 2-core machine.
INIT_TIMEOUT_SECONDS = 90.0
# "1": start every environment as a new interpreter, as on systems without pidfds.
NO_ZYGOTE_ENV = "KTP_LOCAL_NO_ZYGOTE"


class InvocationError(RuntimeError):
    """The handler raised (``error_type`` is the exception's class name), crashed or timed out."""

    def __init__(self, function: str, error_type: str) -> None:
        super().__init__(f"{function} failed: {error_type}")
        self.function = function
        self.error_type = error_type


@dataclass(frozen=True)
class FunctionConfig:
    """What the pool needs besides the template's spec."""

    spec: FunctionSpec
    environment: dict[str, str]  # the complete environment of the child (template env + AWS + runtime)
    function_name: str
    function_arn: str
    log_path: Path
    max_concurrency: int = 1


def _forking_supported() -> bool:
    """Environments come from :mod:`local.function_zygote` where a non-child process can be
    watched safely (Linux's pidfds); elsewhere each is a new interpreter (the same runtime)."""
    return hasattr(os, "pidfd_open") and hasattr(socket, "send_fds") and os.environ.get(NO_ZYGOTE_ENV) != "1"


class _Forked:
    """The part of ``subprocess.Popen`` an environment uses, for a process the zygote forked (its
    exit status goes to the zygote; here only whether it has exited is known)."""

    def __init__(self, pid: int, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone and reaped; its answer, if any, is in the pipe
            self._pidfd, self.returncode = None, -1

    def _exited(self, timeout: float | None) -> bool:
        if self._pidfd is not None and select.select([self._pidfd], [], [], timeout)[0]:
            os.close(self._pidfd)
            self._pidfd, self.returncode = None, -1  # -1: the real status went to the zygote
        return self.returncode is not None

    def poll(self) -> int | None:
        self._exited(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited(timeout):
            raise subprocess.TimeoutExpired("local.function_runtime", timeout or 0)
        return -1

    def kill(self) -> None:
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)  # a pidfd cannot hit a reused pid
            except ProcessLookupError:  # exited since the last poll (Popen.kill is as quiet)
                pass


class _Zygote:
    """The stack process's fork server, started on first use and again if it has died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._answers: IO[bytes] | None = None

    def fork(self, env: dict[str, str], cwd: Path, fds: list[int]) -> int:
        message = json.dumps({"env": env, "cwd": str(cwd)}).encode()
        with self._lock:
            for _ in range(2):  # a zygote that died (or answered nonsense) is replaced once
                try:
                    sock, answers = self._started()
                    socket.send_fds(sock, [message], fds)
                    answer = answers.readline().strip()
                    if answer.isdigit() and int(answer) > 0:
                        return int(answer)
                except OSError:
                    pass
                self._stop()
            raise OSError("the function zygote did not start an environment")

    def _started(self) -> tuple[socket.socket, IO[bytes]]:
        if self._socket is None or self._answers is None:  # both or neither
            ours, theirs = socket.socketpair()
            env = {**os.environ, ZYGOTE_SOCKET_ENV: str(theirs.fileno()), "PYTHONPATH": str(REPO_ROOT)}
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "local.function_zygote"], stdin=subprocess.DEVNULL,
                env=env, cwd=str(REPO_ROOT), pass_fds=(theirs.fileno(),),
            )
            theirs.close()
            self._socket, self._answers = ours, ours.makefile("rb")
        return self._socket, self._answers

    def _stop(self) -> None:
        if self._answers is not None:
            self._answers.close()
        if self._socket is not None:
            self._socket.close()  # the zygote exits on EOF
        self._socket = self._answers = None
        if self._process is not None:
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


_zygote = _Zygote()


def _fork_environment(env: dict[str, str], cwd: Path, log_file: IO[bytes]) -> _Forked:
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    lifeline_fd = int(env[lifeline.FD_ENV])
    try:
        pid = _zygote.fork(env, cwd, [stdin_read, stdout_write, log_file.fileno(), lifeline_fd])
    except BaseException:
        for fd in (stdin_read, stdin_write, stdout_read, stdout_write):
            os.close(fd)
        raise
    os.close(stdin_read)
    os.close(stdout_write)
    return _Forked(pid, os.fdopen(stdin_write, "wb"), os.fdopen(stdout_read, "rb"))


def _start_environment(
    env: dict[str, str], cwd: Path, log_file: IO[bytes], pass_fds: tuple[int, ...]
) -> subprocess.Popen[bytes] | _Forked:
    if _forking_supported():
        return _fork_environment(env, cwd, log_file)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.function_runtime"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,
        env=env,
        cwd=str(cwd),
        pass_fds=pass_fds,
    )


class _Environment:
    """One execution environment: a child process serving invocations one at a time."""

    def __init__(self, config: FunctionConfig, log_file: IO[bytes]) -> None:
        spec = config.spec
        runtime_spec = {
            "code_dir": str(spec.code_dir),
            "layer_dirs": [str(path) for path in spec.layer_dirs],
            "handler_module": spec.handler_module,
            "handler_function": spec.handler_function,
            "timeout_seconds": spec.timeout_seconds,
            "memory_mb": spec.memory_mb,
            "function_name": config.function_name,
            "function_arn": config.function_arn,
        }
        lifeline_env, pass_fds = lifeline.child_options()  # it exits when the stack's process does
        env = {**config.environment, **lifeline_env, SPEC_ENV: json.dumps(runtime_spec), "PYTHONPATH": str(REPO_ROOT)}
        self.name = spec.logical_id
        self.process = _start_environment(env, spec.code_dir, log_file, pass_fds)
        self._buffer = b""
        try:
            ready = self._read_message(time.monotonic() + INIT_TIMEOUT_SECONDS)
        except (TimeoutError, EOFError, OSError, ValueError) as error:
            self.kill()
            self.close()
            raise InvocationError(self.name, f"init failed: {type(error).__name__} (see {config.log_path})") from None
        if not ready.get("ready"):
            self.kill()
            raise InvocationError(self.name, f"init failed: {ready.get('error_type', 'unknown')} (see {config.log_path})")

    def _read_message(self, deadline: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def invoke(self, event: Any, timeout_seconds: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        request = {"event": event, "request_id": str(uuid.uuid4()), "timeout_seconds": timeout_seconds}
        self.process.stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
        self.process.stdin.flush()
        # A little slack over the function timeout for the pipe round trip.
        return self._read_message(time.monotonic() + timeout_seconds + 2.0)

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self, grace_seconds: float = 3.0) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(grace_seconds)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        if self.process.stdout:
            self.process.stdout.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class LocalFunction:
    """Invoke one template function like Lambda does: reuse a warm environment when one is free,
    start another up to ``max_concurrency``, replace an environment that timed out or crashed."""

    def __init__(self, config: FunctionConfig) -> None:
        self.config = config
        self.name = config.spec.logical_id
        config.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(config.log_path, "ab")  # noqa: SIM115 - closed in close()
        self._idle: list[_Environment] = []
        self._count = 0
        self._condition = threading.Condition()
        self._closed = False
        self.invocations = 0
        self.errors = 0

    def warm_up(self) -> None:
        """Start one environment now, so a broken handler fails ``ktp up`` instead of the first job."""
        environment = self._acquire()
        self._release(environment)

    def invoke(self, event: Any, timeout_seconds: float | None = None) -> Any:
        timeout = float(timeout_seconds or self.config.spec.timeout_seconds)
        environment = self._acquire()
        try:
            answer = environment.invoke(event, timeout)
        except TimeoutError:
            self._discard(environment)
            self._count_error()
            raise InvocationError(self.name, "Task timed out") from None
        except (EOFError, OSError, ValueError):
            self._discard(environment)
            self._count_error()
            raise InvocationError(self.name, "Runtime exited") from None
        self._release(environment)
        with self._condition:
            self.invocations += 1
        if not answer.get("ok"):
            self._count_error()
            raise InvocationError(self.name, answer.get("error_type", "Unhandled"))
        return answer.get("result")

    def _count_error(self) -> None:
        with self._condition:
            self.errors += 1

    def _acquire(self) -> _Environment:
        with self._condition:
            while True:
                if self._closed:
                    raise InvocationError(self.name, "stopped")
                while self._idle:
                    environment = self._idle.pop()
                    if environment.alive():
                        return environment
                    self._count -= 1
                if self._count < self.config.max_concurrency:
                    self._count += 1
                    break
                self._condition.wait()
        try:
            return _Environment(self.config, self._log_file)
        except BaseException:
            with self._condition:
                self._count -= 1
                self._condition.notify()
            raise

    def _release(self, environment: _Environment) -> None:
        with self._condition:
            if self._closed:
                environment.close()
                return
            self._idle.append(environment)
            self._condition.notify()

    def _discard(self, environment: _Environment) -> None:
        environment.kill()
        environment.close()
        with self._condition:
            self._count -= 1
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._condition.notify_all()
        for environment in idle:
            environment.close()
        self._log_file.close()
