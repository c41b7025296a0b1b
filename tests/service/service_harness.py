"""Run the extractor service as a real subprocess on 127.0.0.1 and listen for its callbacks."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from PIL import Image

from local.loopback_http import loopback_client

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

APP_ID, API_KEY = "app-one", "key-one-secret"
CB_USER, CB_PASSWORD = "cb-user", "cb:pass:with:colons"
APP2_ID, API2_KEY = "app-two", "key-two-secret"
AUTH = {"App-ID": APP_ID, "API-Key": API_KEY}
AUTH2 = {"App-ID": APP2_ID, "API-Key": API2_KEY}

STARTUP_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; bounded so a broken service fails the test, not hangs it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def jpeg(width: int = 1000, height: int = 640, color=(40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=85)
    return out.getvalue()


def png(width: int = 1000, height: int = 640) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Service:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    engine: str = "fake_ktp_engine"
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KTP_SERVE_")}
        env.update(self.env)
        # The fake engine lives next to the tests; spawned workers import it by module name.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(HERE), env.get("PYTHONPATH", "")])
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-service-{self.port}.log"
        args = [
            sys.executable, "-m", "extractor.service",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--workers", str(self.workers), "--engine", self.engine,
            "--app", f"{APP_ID}:{API_KEY}:{CB_USER}:{CB_PASSWORD}", "--app", f"{APP2_ID}:{API2_KEY}",
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with loopback_client(timeout=1.0) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"service exited with {self.process.returncode}: {self.logs()[-3000:]}")
                try:
                    if probe.get(f"{self.url}/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("service did not become healthy")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the server and its worker processes (a crash: no shutdown code runs)."""
        _kill_tree(self.process)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def client(self, **kwargs) -> httpx.Client:
        return loopback_client(base_url=self.url, timeout=30.0, **kwargs)

    # The same questions are asked of either home (ServerlessService answers them from moto).

    def is_up(self) -> bool:
        with loopback_client(timeout=5.0) as http:
            return http.get(f"{self.url}/health").status_code == 200

    def stored_images(self) -> list[str]:
        return [path.name for path in (self.data_dir / "images").iterdir()]

    def job_records(self, reference_id: str) -> int:
        """Rows that still hold the job (its job row and its deliveries)."""
        import sqlite3

        with sqlite3.connect(f"file:{self.data_dir / 'extractor.sqlite3'}?mode=ro", uri=True) as db:
            return sum(
                db.execute(f"SELECT count(*) FROM {table} WHERE reference_id = ?", (reference_id,)).fetchone()[0]
                for table in ("jobs", "deliveries")
            )

    def callback_attempts(self, reference_id: str) -> list[tuple[int, int | None, str | None, str]]:
        """(attempt, http_status, error, delivery state) of the job's callback, oldest first."""
        import sqlite3

        with sqlite3.connect(f"file:{self.data_dir / 'extractor.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(
                "SELECT a.attempt, a.http_status, a.error, d.state FROM delivery_attempts a JOIN deliveries d"
                " ON d.id = a.delivery_id WHERE d.reference_id = ? ORDER BY a.attempt",
                (reference_id,),
            ).fetchall()


def _kill_tree(process: subprocess.Popen | None) -> None:
    """SIGKILL a running process and every process below it."""
    if process and process.poll() is None:
        children = _children(process.pid)
        process.kill()
        process.wait(timeout=10)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _children(pid: int) -> list[int]:
    """Direct and indirect child pids (Linux /proc), so a simulated crash leaves no stray worker."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        path = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            kids = [int(x) for x in path.read_text().split()]
        except OSError:
            kids = []
        found += kids
        frontier += kids
    return found


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Listener:
    """A local HTTP server: records POSTed callbacks (answering a scripted status sequence) and
    serves GET paths registered in ``files`` (for image-URL tests)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []  # consumed per POST; 200 when empty
        self.files: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with listener._lock:
                    listener.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = listener.statuses.pop(0) if listener.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                status, headers, body = listener.files.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except ConnectionError:
                    pass  # the service stops reading an image over its size limit: what the test wants

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def for_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


def expected_basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{CB_USER}:{CB_PASSWORD}".encode()).decode()


@dataclass
class ServerlessService:
    """The serverless extractor's real handlers on moto (``python -m local.serverless_extractor``),
    with the same options as :class:`Service` where both homes have them."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # given to every function
    extra_args: list[str] = field(default_factory=list)  # more runner options (e.g. --app-rate)
    engine: str = "fake_ktp_engine"
    workers: int = 1
    work_visibility_seconds: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    info: dict | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerlessService:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KTP_", "AWS_"))}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "pipeline")])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "runner.log"
        ready = self.data_dir / "ready.json"
        args = [
            sys.executable, "-m", "local.serverless_extractor", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--workers", str(self.workers), "--engine", self.engine, "--engine-path", str(HERE),
            "--work-visibility", str(self.work_visibility_seconds), "--callback-visibility", "2",
            "--app", f"{APP_ID}:{API_KEY}:{CB_USER}:{CB_PASSWORD}", "--app", f"{APP2_ID}:{API2_KEY}",
            "--ready-file", str(ready), *self.extra_args,
        ]
        for name, value in self.env.items():
            args += ["--env", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serverless extractor exited with {self.process.returncode}: "
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            if ready.exists():
                self.info = json.loads(ready.read_text())
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("serverless extractor did not start")

    def kill(self) -> None:
        _kill_tree(self.process)

    stop = kill

    def aws(self, service: str):
        import boto3

        assert self.info is not None
        return boto3.client(
            service, endpoint_url=self.info["endpoint_url"], region_name=self.info["region"],
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def logs(self) -> str:
        """What the functions logged (their log groups, locally one file per function)."""
        folder = self.data_dir / "logs"
        return "".join(path.read_text(errors="replace") for path in sorted(folder.glob("*.log")))

    def client(self, **kwargs) -> httpx.Client:
        return loopback_client(base_url=self.url, timeout=30.0, **kwargs)

    def is_up(self) -> bool:
        with loopback_client(timeout=10.0) as http:
            answer = http.get(f"{self.url}/ktp/id/extract-async/result", params={"reference_id": "is-up-probe"}, headers=AUTH)
        return self.process is not None and self.process.poll() is None and answer.status_code == 404

    def stored_images(self) -> list[str]:
        listing = self.aws("s3").list_objects_v2(Bucket=self.info["names"]["ImageBucket"])
        return [item["Key"] for item in listing.get("Contents", [])]

    def job_item(self, reference_id: str, app_id: str = APP_ID) -> dict:
        from boto3.dynamodb.types import TypeDeserializer

        answer = self.aws("dynamodb").get_item(
            TableName=self.info["names"]["JobsTable"],
            Key={"app_id": {"S": app_id}, "reference_id": {"S": reference_id}}, ConsistentRead=True,
        )
        return {k: TypeDeserializer().deserialize(v) for k, v in answer.get("Item", {}).items()}

    def job_records(self, reference_id: str) -> int:
        """Items that still hold the job (the job item carries its callback state too)."""
        return 1 if self.job_item(reference_id) else 0

    def callback_attempts(self, reference_id: str) -> list[tuple[int, int | None, str | None, str]]:
        item = self.job_item(reference_id)
        state = item.get("callback_state")
        return [
            (n, int(a["http_status"]) if a.get("http_status") is not None else None, a.get("error"), state)
            for n, a in enumerate(item.get("callback_attempts", []), start=1)
        ]
