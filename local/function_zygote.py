"""A fork server for the local function runtime: one per stack process, where the OS has pidfds.

A new interpreter per execution environment spent most of its CPU importing boto3/botocore,
pydantic and httpx on its first invocation (about 0.25 s of a 0.35 s start on an idle 2-core
machine, more on a busy one; a test run starts ~70 environments). This process imports them once
and forks an environment per request. The child then runs :func:`local.function_runtime.main`
exactly as ``python -m local.function_runtime`` would: the function's own environment variables
(nothing of this process's is kept), working directory, stdin/stdout/stderr and lifeline.

Not imported here: Powertools (it reads ``AWS_EXECUTION_ENV`` and its cold-start flag at import,
which must be the function's own), the layer and the handler's code (sys.path is the function's).

Protocol, on a Unix socket pair: the parent sends one JSON object ``{"env": ..., "cwd": ...}`` with
the file descriptors [stdin, stdout, stderr, lifeline] (SCM_RIGHTS); this process answers with the
child's pid and a newline. It exits when the parent's end closes, so it never outlives the stack;
forked environments have their own lifeline.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback

from local import function_runtime, lifeline

SOCKET_FD_ENV = "KTP_ZYGOTE_FD"
# Third-party libraries with no import-time state that depends on the environment.
PRELOAD = ("boto3", "botocore.session", "botocore.client", "botocore.config", "pydantic", "httpx")
MAX_MESSAGE_BYTES = 1 << 20
FDS_PER_REQUEST = 4


def _reap() -> None:
    # The parent watches each environment through a pidfd; the exit status only needs collecting.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_environment(server: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: turn into ``python -m local.function_runtime``; never returns."""
    code = 1
    try:
        server.close()
        stdin_fd, stdout_fd, stderr_fd, lifeline_fd = fds
        for source, target in ((stdin_fd, 0), (stdout_fd, 1), (stderr_fd, 2)):
            os.dup2(source, target)
            os.close(source)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        environment = dict(request["env"])
        environment[lifeline.FD_ENV] = str(lifeline_fd)  # its number in this process, not the parent's
        os.environ.clear()
        os.environ.update(environment)
        os.chdir(request["cwd"])
        sys.argv = [function_runtime.__file__]
        code = function_runtime.main()
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the function's log, like a failed init
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def serve(server: socket.socket) -> int:
    while True:
        readable, _, _ = select.select([server], [], [], 1.0)
        _reap()
        if not readable:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(server, MAX_MESSAGE_BYTES, FDS_PER_REQUEST)
        except OSError:
            return 0
        if not message:  # the parent has gone
            return 0
        if len(fds) != FDS_PER_REQUEST:
            for fd in fds:
                os.close(fd)
            server.sendall(b"0\n")
            continue
        pid = os.fork()
        if pid == 0:
            _become_environment(server, json.loads(message), fds)
        for fd in fds:
            os.close(fd)
        server.sendall(f"{pid}\n".encode())


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group; the stack stops us
    server = socket.socket(fileno=int(os.environ.pop(SOCKET_FD_ENV)))
    for name in PRELOAD:
        importlib.import_module(name)
    return serve(server)


if __name__ == "__main__":
    raise SystemExit(main())
