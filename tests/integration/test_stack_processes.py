"""Process handling of the local stack: its children (extractor, OCR workers, function runtimes)
go down with it however it ends, ``kill -9`` and Ctrl-C while starting included; a dead extractor
is restarted on its port; a stopped stack starts again at once on the same ports."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.aws import PortInUse, ensure_port_free
from local.extractor_process import free_port
from local.stack import LocalStack
from local.state import read_state

from .conftest import (
    TEST_EXTRACTOR_ARGS,
    TEST_FUNCTION_ENV,
    default_sigint,
    descendants,
    dropped_interrupts,
    wait_for,
    without_ignored_interrupts,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 300.0  # the extractor loads its OCR model on a busy 2-core machine
GONE_TIMEOUT = 30.0  # the lifeline's grace period (10 s) plus slack

# A `ktp up` in miniature: start a LocalStack, say so, then wait to be killed or interrupted.
STACK_SCRIPT = textwrap.dedent(
    """
    import faulthandler, sys, time
    from local.stack import LocalStack

    stack = LocalStack(sys.argv[1], persist=False, extractor_workers=1)
    try:
        stack.start()
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
        faulthandler.dump_traceback_later(20)  # an exit that hangs shows its threads in stderr
        raise SystemExit(130)
    print("READY", flush=True)
    time.sleep(600)
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, timeout=30).stdout
    return bool(stat.strip()) and not stat.strip().startswith("Z")  # a zombie no one reaped yet is gone


class StackProcess:
    """The stack script in a subprocess, its output lines read with bounded waits."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "pipeline")])}
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our script
            [sys.executable, "-c", STACK_SCRIPT, str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=REPO_ROOT, preexec_fn=default_sigint,
        )
        self.children: dict[int, str] = {}  # what the test saw below it, to clean up even after a failure
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.process.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _read(stream, sink) -> None:
        for line in stream:
            sink(line.rstrip("\n"))

    def next_line(self, timeout: float) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the stack script said nothing in time; stderr:\n" + "\n".join(self.stderr[-30:])) from None

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the script is still running after ``timeout`` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def descendants(self) -> dict[int, str]:
        found = descendants(self.process.pid)
        self.children.update(found)
        return found

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


@pytest.fixture
def stack_process(tmp_path: Path) -> Iterator[StackProcess]:
    running = StackProcess(tmp_path / "data")
    try:
        yield running
    finally:
        running.descendants()
        running.finish()
        for pid in running.children:  # never leave a test's processes behind, even when the test failed
            try:
                os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_kill_9_of_the_stack_takes_every_child_down(stack_process: StackProcess, tmp_path: Path) -> None:
    assert stack_process.next_line(START_TIMEOUT) == "READY"
    info = read_state(tmp_path / "data")
    assert httpx.get(f"{info.extractor_url}/health", timeout=10).status_code == 200
    children = stack_process.descendants()
    commands = list(children.values())
    # Three execution environments: new interpreters, or (Linux) forks of the zygote, one more process.
    zygote = any("local.function_zygote" in command for command in commands)
    environments = [c for c in commands if "local.function_runtime" in c or "local.function_zygote" in c]
    assert len(environments) == 3 + zygote, commands
    assert sum("ktp serve --local" in command for command in commands) == 1, commands
    assert any("multiprocessing.spawn" in command for command in commands), commands  # the OCR worker

    stack_process.process.send_signal(signal.SIGKILL)
    stack_process.process.wait(30)

    wait_for(lambda: not any(alive(pid) for pid in children), timeout=GONE_TIMEOUT,
             what=f"the children of the killed stack to exit: {[children[p] for p in children if alive(p)]}")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{info.extractor_url}/health", timeout=5)


def test_ctrl_c_while_starting_leaves_no_child(stack_process: StackProcess) -> None:
    # Interrupt once the extractor is loading its model (the stack is still provisioning moto).
    wait_for(lambda: any("ktp serve --local" in c for c in stack_process.descendants().values()),
             timeout=60, what="the extractor to be started", interval=0.05)
    children = stack_process.descendants()
    # Python drops a Ctrl-C that lands inside an import lock's weakref callback ("Exception ignored
    # in ... _get_module_lock"); a person then presses it again, and so does this test (bounded),
    # as soon as stderr shows the drop: waiting longer lets a busy stack finish starting first.
    line = None
    for _ in range(5):
        dropped_before = dropped_interrupts(stack_process.stderr)
        stack_process.process.send_signal(signal.SIGINT)
        try:
            wait_for(lambda: not stack_process.lines.empty() or dropped_interrupts(stack_process.stderr) > dropped_before,
                     timeout=60, what="the stack to answer Ctrl-C", interval=0.05)
        except AssertionError:
            break
        if not stack_process.lines.empty():
            line = stack_process.lines.get_nowait()
            break
    assert line == "INTERRUPTED", stack_process.stderr[-30:]  # start() cleaned up and re-raised KeyboardInterrupt
    assert stack_process.wait(60) == 130, stack_process.stderr[-40:]
    # Stopped by start() itself (the old code first waited up to 240 s for the model); allow only
    # the moment a busy machine needs to reap the processes.
    wait_for(lambda: not [pid for pid in children if alive(pid)], timeout=15, what=f"children {children} to exit")
    assert not [line for line in without_ignored_interrupts(stack_process.stderr) if line.startswith("Traceback")], \
        stack_process.stderr


def test_what_httpx_imports_lazily_is_imported_before_a_stack_starts_a_thread() -> None:
    # The extractor-start thread and the main thread both make their first httpx client during a
    # start; had both imported httpcore then, a Ctrl-C in the main thread's import could leave the
    # module lock held and the interrupted start would hang (the test above, once in ~20 runs).
    code = "import sys, threading, local.stack; print(threading.active_count(), *(m in sys.modules for m in ('httpcore', 'certifi')))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60, check=True)
    assert run.stdout.split() == ["1", "True", "True"], run.stdout + run.stderr


# --- the port probe ------------------------------------------------------------------------
def _server_side_time_wait(port: int) -> None:
    """Leave a connection in TIME_WAIT on ``port``: the server side closes first, as a server
    ending keep-alive connections on its way down does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        server_side, _ = listener.accept()
        server_side.close()
        client.recv(1)  # EOF: the server's close arrived
        client.close()


def test_port_probe_allows_time_wait_but_not_a_listener() -> None:
    port = free_port()
    _server_side_time_wait(port)
    ensure_port_free(port)  # TIME_WAIT left by a stack that just stopped does not block a restart
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:  # someone else's server on the port
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", port))
        other.listen(1)
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is in use"):
            ensure_port_free(port)


def _three_free_ports() -> int:
    """Below the ephemeral ranges (Linux 32768+, macOS 49152+): an outgoing connection of any
    other program on this busy machine could otherwise take one of them before our servers bind."""
    import random

    for _ in range(50):
        base = random.randrange(20000, 32000 - 3)
        try:
            for offset in range(3):
                ensure_port_free(base + offset)
        except PortInUse:
            continue
        return base
    raise AssertionError("no three consecutive free ports")


@pytest.fixture(scope="module")
def restarted_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack started, stopped, and started again at once on the same ports."""
    data_dir = tmp_path_factory.mktemp("restarted-stack")
    options = dict(port_base=_three_free_ports(), poll_seconds=1.0, function_env=TEST_FUNCTION_ENV,
                   extractor_args=TEST_EXTRACTOR_ARGS, extractor_workers=1)
    with LocalStack(data_dir, **options) as first:
        first_info = first.info
        # Connections the servers close themselves end in TIME_WAIT on their ports.
        for url in (first_info.endpoint_url + "/moto-api/", first_info.callback_url, first_info.extractor_url + "/health"):
            httpx.get(url, headers={"Connection": "close"}, timeout=10)
    second = LocalStack(data_dir, **options)
    with second:
        assert (second.info.endpoint_url, second.info.callback_url, second.info.extractor_url) == (
            first_info.endpoint_url, first_info.callback_url, first_info.extractor_url)
        yield second


def test_a_stopped_stack_starts_again_at_once_on_the_same_ports(restarted_stack: LocalStack) -> None:
    assert restarted_stack.port_base
    assert httpx.get(f"{restarted_stack.info.extractor_url}/health", timeout=10).status_code == 200


def test_a_dead_extractor_is_restarted_on_its_port(restarted_stack: LocalStack, card_factory,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    extractor = restarted_stack.extractor
    assert extractor is not None and extractor.pid is not None
    before = extractor.restarts
    dead_pid = extractor.pid
    with caplog.at_level("WARNING", logger="ktp.local.extractor"):
        os.killpg(dead_pid, signal.SIGKILL)  # from outside, as a crash or an OOM kill would
        wait_for(lambda: extractor.restarts > before, timeout=START_TIMEOUT, what="the extractor to be restarted")
    assert extractor.pid != dead_pid
    assert httpx.get(f"{restarted_stack.info.extractor_url}/health", timeout=10).status_code == 200
    said = [record.getMessage() for record in caplog.records if "restarting it on port" in record.getMessage()]
    assert said == [f"extractor exited (code -9); restarting it on port {extractor.port}"]

    image, _ = card_factory(919)
    reference_id = restarted_stack.jobs.upload_bytes(image, "restart/after.jpg").reference_id
    records = restarted_stack.jobs.wait_terminal([reference_id], timeout_seconds=180)
    assert records[reference_id] and records[reference_id]["status"] == "COMPLETED", records


def test_the_supervisor_gives_up_after_repeated_deaths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from local import extractor_process

    # The sandbox extractor loads no OCR model, so it restarts quickly.
    extractor = extractor_process.ExtractorProcess(
        data_dir=tmp_path / "extractor", port=free_port(), app_spec="app:key:user:password",
        log_path=tmp_path / "extractor.log", extra_args=("--sandbox",),
    )
    try:
        extractor.start()
        extractor.supervise()
        with caplog.at_level("WARNING", logger="ktp.local.extractor"):
            for restarts in range(1, extractor_process.MAX_RESTARTS + 1):
                os.killpg(extractor.pid, signal.SIGKILL)
                wait_for(lambda: extractor.restarts == restarts, timeout=START_TIMEOUT, what=f"restart {restarts}")
            os.killpg(extractor.pid, signal.SIGKILL)  # one death too many within the window
            wait_for(lambda: not extractor._supervisor.is_alive(), timeout=60, what="the supervisor to give up")
        assert not extractor.running and extractor.restarts == extractor_process.MAX_RESTARTS
        messages = [record.getMessage() for record in caplog.records]
        assert sum("restarting it on port" in message for message in messages) == extractor_process.MAX_RESTARTS
        assert messages[-1] == (f"extractor died {extractor_process.MAX_RESTARTS + 1} times within 60 s; "
                                f"not restarting it (see {tmp_path / 'extractor.log'})")
    finally:
        extractor.close()
