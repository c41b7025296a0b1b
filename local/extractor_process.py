"""The built-in extractor (``ktp serve --local``) as the local provider, in its own process and
process group so it can be stopped and restarted (fault tests) and never outlives the stack."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

log = logging.getLogger("ktp.local.extractor")

# Loading the OCR model on a busy 2-core machine can take a while.
STARTUP_TIMEOUT_SECONDS = 240.0


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
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._app_spec = app_spec  # APP_ID:API_KEY:CALLBACK_USER:CALLBACK_PASSWORD — secret, never logged
        self._log_path = log_path
        self._workers = workers
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "ktp", "serve", "--local",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--workers", str(self._workers),
            *self._extra_args,
        ]
        # The app spec holds credentials: pass it in the environment, not on the command line
        # where any user could read it from the process list.
        env = {**os.environ, "KTP_SERVE_APPS": self._app_spec}
        with open(self._log_path, "ab") as log_file:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_healthy()
        log.info("extractor ready at %s", self.url)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if not self.running:
                    raise RuntimeError(f"extractor exited during startup; see {self._log_path}")
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"extractor not healthy after {STARTUP_TIMEOUT_SECONDS:.0f}s; see {self._log_path}")

    def stop(self, grace_seconds: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # Signal our own child's process group only (it was started in a new session).
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would (jobs in flight stay unfinished)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
