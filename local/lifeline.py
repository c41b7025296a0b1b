"""Children of the local stack go down with it on any exit, ``kill -9`` included.

The parent keeps the write end of one pipe for its whole life and never writes to it; each child
gets the read end and a thread that blocks on it. When the parent exits, however it exits, the
kernel closes the write end, the read returns EOF and the child ends itself. This works on Linux
and macOS alike. (Linux's ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that
started the child ends, and the stack starts children from short-lived worker threads.)

    python -m local.lifeline ktp serve --local ...   # runs ``python -m ktp serve ...`` guarded
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time
from collections.abc import Callable

FD_ENV = "KTP_LIFELINE_FD"
# After asking a guarded server to stop (SIGTERM), how long it may take before it is killed.
GRACE_SECONDS = 10.0

_lock = threading.Lock()
_read_fd: int | None = None
_write_fd: int | None = None  # held open, never written, until this process ends


def child_options() -> tuple[dict[str, str], tuple[int, ...]]:
    """What to give ``subprocess.Popen`` (``env`` additions, ``pass_fds``) for a child that must
    not outlive this process."""
    global _read_fd, _write_fd
    with _lock:
        if _read_fd is None:
            _read_fd, _write_fd = os.pipe()  # both non-inheritable: only pass_fds hands out the read end
        return {FD_ENV: str(_read_fd)}, (_read_fd,)


def watch(on_parent_exit: Callable[[], None]) -> bool:
    """In the child: call ``on_parent_exit`` (in a daemon thread) once the parent has gone.
    False when this process was not started with a lifeline."""
    value = os.environ.pop(FD_ENV, None)
    if not value:
        return False
    fd = int(value)
    os.set_inheritable(fd, False)  # this child's own children watch their own parent, not ours

    def wait_for_eof() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        on_parent_exit()

    threading.Thread(target=wait_for_eof, name="lifeline", daemon=True).start()
    return True


def terminate_process_group() -> None:
    """Ask this process (and, when it leads one, its process group) to stop as on ``kill``; kill
    them if they are still there after the grace period."""
    group = os.getpgrp() if os.getpgrp() == os.getpid() else None
    _signal(group, signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    _signal(group, signal.SIGKILL)


def _signal(group: int | None, signum: int) -> None:
    try:
        os.killpg(group, signum) if group is not None else os.kill(os.getpid(), signum)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m local.lifeline MODULE [ARGS...]")
    watch(terminate_process_group)
    sys.argv[:] = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
