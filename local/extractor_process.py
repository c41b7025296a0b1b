"""The built-in extractor (``ktp serve --local``) as the local provider, in its own process and
process group so it can be stopped and restarted (fault tests) and never outlives the stack: it
runs under :mod:`local.lifeline`, and a supervisor restarts it on the same port when it dies."""

from __future__ import annotations

import collections
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from local import lifeline
from local.loopback_http import loopback_client

log = logging.getLogger("ktp.local.extractor")

# Loading the OCR model on a busy 2-core machine can take a while.
STARTUP_TIMEOUT_SECONDS = 240.0
# The supervisor gives up when the extractor died this many times within the window.
MAX_RESTARTS, RESTART_WINDOW_SECONDS = 3, 60.0
SUPERVISE_INTERVAL_SECONDS = 0.5
# `serve`: ktp serve (SQLite, files, worker processes); `serverless`: the serverless extractor's
# handlers on their own moto (local/serverless_extractor.py).
EXTRACTOR_KINDS = ("serve", "serverless")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ExtractorProcess:
    def __init__(
        self,
        *,
        data_dir: Path,
        port: int,
        app_spec: str,
        log_path: Path,
        workers: int = 1,
        extra_args: tuple[str, ...] = (),
        kind: str = "serve",
    ) -> None:
        if kind not in EXTRACTOR_KINDS:
            raise ValueError(f"extractor kind must be one of {EXTRACTOR_KINDS}")
        self.kind = kind
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._app_spec = app_spec  # APP_ID:API_KEY:CALLBACK_USER:CALLBACK_PASSWORD — secret, never logged
        self._log_path = log_path
        self._workers = workers
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # guards _process against the supervisor
        self._closed = threading.Event()  # close(): never start again
        self._supervisor: threading.Thread | None = None
        self.restarts = 0

    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.kind == "serve":
            command = [
                sys.executable, "-m", "local.lifeline", "ktp", "serve", "--local",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--workers", str(self._workers),
                *self._extra_args,
            ]
            apps_env = "KTP_SERVE_APPS"
        else:
            command = [
                sys.executable, "-m", "local.lifeline", "local.serverless_extractor", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--workers", str(self._workers), *self._extra_args,
            ]
            apps_env = "KTP_SERVERLESS_APPS"
        lifeline_env, pass_fds = lifeline.child_options()
        # The app spec holds credentials: pass it in the environment, not on the command line
        # where any user could read it from the process list.
        env = {**os.environ, **lifeline_env, apps_env: self._app_spec}
        with self._lock:
            if self._closed.is_set():
                raise RuntimeError("the extractor is closed")
            if self.running:
                return
            with open(self._log_path, "ab") as log_file:
                # Its own session: Ctrl-C in the terminal does not reach it (the stack stops it),
                # and stop() can signal it together with its OCR workers.
                self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    command, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True, pass_fds=pass_fds,
                )
        self._wait_healthy()
        log.info("extractor ready at %s", self.url)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with loopback_client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"extractor exited during startup; see {self._log_path}")
                try:
                    if self._healthy(http):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"extractor not healthy after {STARTUP_TIMEOUT_SECONDS:.0f}s; see {self._log_path}")

    def _healthy(self, http: httpx.Client) -> bool:
        # Both homes answer GET /health; the serverless one through its HTTP API and API function.
        return http.get(f"{self.url}/health").status_code == 200

    def _take(self) -> subprocess.Popen[bytes] | None:
        """Detach the process from this object first, so the supervisor never restarts a stop."""
        with self._lock:
            process, self._process = self._process, None
        return process if process is not None and process.poll() is None else None

    def stop(self, grace_seconds: float = 15.0) -> None:
        process = self._take()
        if process is None:
            return
        # Signal our own child's process group only (it was started in a new session).
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would (jobs in flight stay unfinished); not restarted."""
        process = self._take()
        if process is not None:
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        """Stop for good: a start in progress (another thread) fails fast, the supervisor ends."""
        self._closed.set()
        self.stop()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(STARTUP_TIMEOUT_SECONDS)

    # --- supervision ----------------------------------------------------------------------
    def supervise(self) -> None:
        """Restart the extractor on its port whenever it dies on its own (not after stop/kill)."""
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="extractor-supervisor", daemon=True)
            self._supervisor.start()

    def _supervise(self) -> None:
        deaths: collections.deque[float] = collections.deque()
        while not self._closed.wait(SUPERVISE_INTERVAL_SECONDS):
            with self._lock:
                process = self._process
                if process is None or process.poll() is None:
                    continue
                self._process = None  # died by itself: stop()/kill() detach before they signal
            now = time.monotonic()
            deaths.append(now)
            while deaths and now - deaths[0] > RESTART_WINDOW_SECONDS:
                deaths.popleft()
            if len(deaths) > MAX_RESTARTS:
                log.error("extractor died %d times within %.0f s; not restarting it (see %s)",
                          len(deaths), RESTART_WINDOW_SECONDS, self._log_path)
                return
            log.warning("extractor exited (code %s); restarting it on port %d", process.returncode, self.port)
            self._restart()

    def _restart(self) -> None:
        try:
            self.start()
            self.restarts += 1
        except (OSError, RuntimeError, TimeoutError) as error:
            if not self._closed.is_set():
                # A process that started and then died is seen (and counted) by the next round;
                # one that never became healthy was stopped and stays down.
                log.error("extractor restart failed (%s); see %s", type(error).__name__, self._log_path)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # already gone (and reaped by the kernel's process-group rules)
        pass
