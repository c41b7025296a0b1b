"""``LocalStack``: the whole pipeline on 127.0.0.1 — moto, the extractor as provider, and the three
real handlers wired exactly as ``template.yaml`` wires them.

    with LocalStack(data_dir) as stack:
        upload = stack.jobs.upload_file(Path("card.jpg"))
        stack.jobs.wait_terminal([upload.reference_id], timeout_seconds=120)
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local import sam_local, snapshot
from local.aws import MotoServer, ProvisionedResources, ensure_port_free, pin_object_version, provision
from local.aws_clients import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, client
from local.callback_endpoint import CallbackEndpoint
from local.completion_events import PipeRunner
from local.extractor_process import ExtractorProcess, free_port
from local.functions import REPO_ROOT, FunctionConfig, LocalFunction
from local.jobs import JobsClient
from local.poller_schedule import PollerSchedule
from local.provider_tap import ProviderTap
from local.state import NoRunningStack, StackInfo, read_state, remove_state, write_state
from local.submit_worker import SubmitWorker
from local.template import DEFAULT_REGION, LOCAL_ACCOUNT_ID, http_routes, load_template, rate_to_seconds, translate

log = logging.getLogger("ktp.local.stack")

DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
SUBMIT, CALLBACK, POLLER = "SubmitFunction", "CallbackFunction", "PollerFunction"
# Host environment a Python child needs to start at all; everything else comes from the template.
_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "PYENV_VERSION", "VIRTUAL_ENV")


def _load_credentials(data_dir: Path) -> dict[str, str]:
    """Provider and callback credentials, generated once per data dir and kept (0600) so the
    extractor's stored jobs stay reachable across restarts."""
    path = data_dir / "credentials.json"
    credentials = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
        "app_id": "ktp-local",
        "api_key": secrets.token_urlsafe(24),
        "callback_username": "ktp-callback",
        "callback_password": secrets.token_urlsafe(24),
    }
    if "nik_hash_key" in credentials:
        return credentials
    # The NikHashSecret's HMAC key (erasure by NIK); added to data dirs made before it existed.
    credentials["nik_hash_key"] = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(credentials, handle)
    return credentials


class LocalStack:
    def __init__(
        self,
        data_dir: str | Path,
        *,
        template_path: str | Path = DEFAULT_TEMPLATE,
        port_base: int = 0,
        poll_seconds: float | None = None,
        function_env: dict[str, str] | None = None,
        parameter_overrides: dict[str, Any] | None = None,
        extractor_workers: int = 1,
        extractor_args: tuple[str, ...] = (),
        extractor_kind: str = "serve",
        tap_provider: bool = False,
        persist: bool = True,
        stack_name: str = "ktp-local",
        region: str = DEFAULT_REGION,
        submit_concurrency: int = 2,
        callback_concurrency: int = 2,
        sam_files: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.template_path = Path(template_path)
        self.port_base = port_base
        self.poll_seconds = poll_seconds
        self.function_env = dict(function_env or {})
        self.parameter_overrides = dict(parameter_overrides or {})
        self.extractor_workers = extractor_workers
        self.extractor_args = extractor_args
        self.extractor_kind = extractor_kind
        self.tap_provider = tap_provider
        self.persist = persist
        self.stack_name = stack_name
        self.region = region
        self.submit_concurrency = submit_concurrency
        self.callback_concurrency = callback_concurrency
        self.sam_files = sam_files  # write <data-dir>/sam/ for `sam local` (local/sam_local.py)
        self.sam_env_file: Path | None = None

        self.cfn: dict[str, Any] | None = None  # the template as samtranslator translated it
        self.resources: ProvisionedResources | None = None
        self.moto: MotoServer | None = None
        self.extractor: ExtractorProcess | None = None
        self.tap: ProviderTap | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.callback_endpoint: CallbackEndpoint | None = None
        self.submit_worker: SubmitWorker | None = None
        self.poller: PollerSchedule | None = None
        self.pipes: dict[str, PipeRunner] = {}  # completion events (local/completion_events.py)
        self._info: StackInfo | None = None
        self._jobs: JobsClient | None = None
        self._stopped = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _port(self, offset: int) -> int:
        return self.port_base + offset if self.port_base else 0

    def start(self) -> StackInfo:
        """Start everything; on any failure, Ctrl-C (KeyboardInterrupt) included, stop what had
        started and re-raise, so no child is left running."""
        try:
            return self._start()
        except BaseException:
            self.stop(snapshot_state=False)
            raise

    def _start(self) -> StackInfo:
        if not self.data_dir.exists():
            self.data_dir.mkdir(parents=True)
            os.chmod(self.data_dir, 0o700)  # results, images and credentials live here
        try:
            running = read_state(self.data_dir)
        except NoRunningStack:
            pass
        else:  # two stacks on one data dir would overwrite each other's snapshot and state file
            raise RuntimeError(f"a local stack (pid {running.pid}) already runs with data dir {self.data_dir}")
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        credentials = _load_credentials(self.data_dir)
        if self.port_base:
            for offset in range(3):
                ensure_port_free(self.port_base + offset)

        # The extractor loads its OCR models in its own process while moto creates the stack here.
        self.extractor = ExtractorProcess(
            data_dir=self.data_dir / "extractor",
            port=self._port(1) or free_port(),
            app_spec=":".join(
                (credentials["app_id"], credentials["api_key"], credentials["callback_username"], credentials["callback_password"])
            ),
            log_path=logs / "extractor.log",
            workers=self.extractor_workers,
            extra_args=self.extractor_args,
            kind=self.extractor_kind,
        )
        background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extractor-start")
        extractor_started = background.submit(self.extractor.start)
        background.shutdown(wait=False)
        try:
            return self._start_with_extractor_starting(credentials, extractor_started)
        except BaseException:  # Ctrl-C included: a start still loading the OCR model ends now
            self.extractor.close()
            extractor_started.exception()  # never leave the start running behind a failure (stop() follows)
            raise

    def _start_with_extractor_starting(self, credentials: dict[str, str], extractor_started: Any) -> StackInfo:
        self.moto = MotoServer(self._port(0))
        endpoint = self.moto.start()
        log.info("moto listening at %s", endpoint)
        template = load_template(self.template_path)
        if "Provider" in (template.get("Parameters") or {}):
            # This stack runs its own extractor and points the functions at it (PROVIDER_BASE_URL below);
            # the nested serverless extractor of Provider=builtin is for AWS (moto cannot nest a local template).
            self.parameter_overrides.setdefault("Provider", "external")
        cfn = self.cfn = translate(template, self.parameter_overrides, region=self.region)
        routes = http_routes(cfn, CALLBACK)  # a template the local stack cannot serve fails before anything starts
        s3, dynamodb, sqs = (client(name, endpoint, self.region) for name in ("s3", "dynamodb", "sqs"))

        def restore(resources: ProvisionedResources) -> None:
            if self.persist:
                counts = snapshot.restore_data(
                    self.data_dir, s3=s3, dynamodb=dynamodb, bucket=resources.bucket, table=resources.table,
                    pin_version=lambda key, new, old: pin_object_version(
                        resources.bucket, key, new, old, account_id=LOCAL_ACCOUNT_ID
                    ),
                )
                if any(counts.values()):
                    log.info("restored %(items)d job records and %(objects)d objects", counts)

        self.resources = resources = provision(
            cfn,
            endpoint,
            {
                "ProviderSecret": {"app_id": credentials["app_id"], "api_key": credentials["api_key"]},
                "CallbackSecret": {"username": credentials["callback_username"], "password": credentials["callback_password"]},
                "NikHashSecret": {"key": credentials["nik_hash_key"]},
            },
            root=self.template_path.resolve().parent,
            stack_name=self.stack_name,
            region=self.region,
            parameter_values=self.parameter_overrides,
            submit_id=SUBMIT,
            scheduled_ids=(POLLER,),
            before_notification=restore,
        )
        trigger = resources.trigger
        if self.persist:
            snapshot.restore_events(self.data_dir, sqs=sqs, events_queue_url=resources.events_queue_url)
        # After the restore (a Pipe reads from LATEST), before any handler writes.
        for logical_id, spec in resources.pipes.items():
            runner = PipeRunner(spec, streams=client("dynamodbstreams", endpoint, self.region),
                                events=client("events", endpoint, self.region), sqs=sqs)
            runner.start()
            self.pipes[logical_id] = runner

        extractor_started.result()
        assert self.extractor is not None
        self.extractor.supervise()  # from now on a dead extractor is restarted on its port
        provider_url = self.extractor.url
        if self.tap_provider:
            self.tap = ProviderTap(self.extractor.url)
            self.tap.start()
            provider_url = self.tap.url

        callback_port = self._port(2) or free_port()
        callback_route = next((route for route in routes if route.method in ("POST", "ANY")), routes[0])
        callback_url = f"http://127.0.0.1:{callback_port}{callback_route.path}"
        overrides = {"AWS_ENDPOINT_URL": endpoint, "PROVIDER_BASE_URL": provider_url, "CALLBACK_URL": callback_url}
        concurrency = {SUBMIT: self.submit_concurrency, CALLBACK: self.callback_concurrency, POLLER: 1}
        for logical_id in (SUBMIT, CALLBACK, POLLER):
            self.functions[logical_id] = LocalFunction(self._function_config(logical_id, overrides, concurrency[logical_id]))
        # Start one warm environment of each in parallel: a handler that cannot import fails here.
        with ThreadPoolExecutor(max_workers=3) as pool:
            for future in [pool.submit(function.warm_up) for function in self.functions.values()]:
                future.result()

        self.callback_endpoint = CallbackEndpoint(
            self.functions[CALLBACK], routes, port=callback_port, region=self.region, account_id=LOCAL_ACCOUNT_ID
        )
        self.callback_endpoint.start()
        self.submit_worker = SubmitWorker(
            self.functions[SUBMIT],
            sqs,
            resources.events_queue_url,
            failure_queue_url=resources.physical_ids.get("SubmitFailureQueue"),
            concurrency=self.submit_concurrency,
        )
        self.submit_worker.start()
        interval = self.poll_seconds or rate_to_seconds(resources.schedules[POLLER])
        self.poller = PollerSchedule(
            self.functions[POLLER],
            interval_seconds=interval,
            rule_arn=f"arn:aws:events:{self.region}:{LOCAL_ACCOUNT_ID}:rule/{self.stack_name}-poller",
            region=self.region,
            account_id=LOCAL_ACCOUNT_ID,
        )
        self.poller.start()

        if self.sam_files:  # `sam local invoke --env-vars` against this stack
            self.sam_env_file = sam_local.write_files(
                self.data_dir, functions={k: f.config for k, f in self.functions.items()}, s3=s3,
                bucket=resources.bucket, region=self.region, credentials=credentials,
            )

        env = self.functions[SUBMIT].config.environment
        self._info = StackInfo(
            kind="local",
            stack_name=self.stack_name,
            region=self.region,
            endpoint_url=endpoint,
            aws_access_key_id=LOCAL_ACCESS_KEY_ID,
            aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
            bucket=resources.bucket,
            upload_prefix=trigger.prefix,
            upload_suffix=trigger.suffix,
            table=resources.table,
            pending_index=env.get("JOBS_PENDING_INDEX"),
            callback_url=callback_url,
            completion_event_bus=resources.completion_event_bus or None,
            extractor_url=self.extractor.url,
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            data_dir=str(self.data_dir),
        )
        write_state(self.data_dir, self._info)
        return self._info

    def _function_config(self, logical_id: str, overrides: dict[str, str], max_concurrency: int) -> FunctionConfig:
        assert self.resources is not None
        spec = self.resources.functions[logical_id]
        arn = self.resources.function_arns[logical_id]
        name = arn.rpartition(":")[2]
        environment = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
        environment.update(
            {
                # What Lambda itself sets.
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "_HANDLER": f"{spec.handler_module}.{spec.handler_function}",
                "TZ": "UTC",
                # No X-Ray daemon locally.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        environment.update(spec.environment)  # the template's Globals + function variables, as CloudFormation resolved them
        # Endpoints that only exist locally — only where the template sets the variable at all.
        environment["AWS_ENDPOINT_URL"] = overrides["AWS_ENDPOINT_URL"]
        environment.update({key: value for key, value in overrides.items() if key in spec.environment})
        environment.update(self.function_env)  # test/bench overrides (short deadlines, ...)
        return FunctionConfig(
            spec=spec,
            environment=environment,
            function_name=name,
            function_arn=arn,
            log_path=self.data_dir / "logs" / f"{logical_id}.log",
            max_concurrency=max_concurrency,
        )

    def stop(self, *, snapshot_state: bool = True) -> None:
        """Stop everything (idempotent); snapshot moto's state into the data dir first."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for component in (self.poller, self.submit_worker, self.callback_endpoint, *self.pipes.values()):
            if component is not None:
                _quietly(component.stop)
        for function in self.functions.values():
            _quietly(function.close)
        if snapshot_state and self.persist and self.moto is not None and self.resources is not None:
            endpoint = self.moto.endpoint_url
            try:
                counts = snapshot.save(
                    self.data_dir,
                    s3=client("s3", endpoint, self.region),
                    dynamodb=client("dynamodb", endpoint, self.region),
                    sqs=client("sqs", endpoint, self.region),
                    bucket=self.resources.bucket,
                    table=self.resources.table,
                    events_queue_url=self.resources.events_queue_url,
                )
                log.info("saved %(items)d job records, %(objects)d objects, %(pending_events)d pending events", counts)
            except Exception as error:  # noqa: BLE001 - stopping must finish even if the snapshot fails
                log.error("could not snapshot the AWS state: %s", type(error).__name__)
        if self.extractor is not None:
            _quietly(self.extractor.close)
        if self.tap is not None:
            _quietly(self.tap.stop)
        if self.moto is not None:
            _quietly(self.moto.stop)
        if self._info is not None:
            remove_state(self.data_dir)

    # --- using it -------------------------------------------------------------------------
    @property
    def info(self) -> StackInfo:
        if self._info is None:
            raise RuntimeError("the stack is not started")
        return self._info

    @property
    def jobs(self) -> JobsClient:
        if self._jobs is None:
            self._jobs = JobsClient(self.info)
        return self._jobs

    def aws_client(self, service: str) -> Any:
        return client(service, self.info.endpoint_url, self.region)

    def deliver_raw_event(self, body: str) -> None:
        """Put an S3 notification body on the events queue, as S3 would (duplicate delivery)."""
        assert self.resources is not None
        self.aws_client("sqs").send_message(QueueUrl=self.resources.events_queue_url, MessageBody=body)

    def refuse_callbacks(self, refuse: bool = True) -> None:
        """Fault injection: the callback endpoint answers 503 without invoking the function."""
        assert self.callback_endpoint is not None
        if refuse:
            self.callback_endpoint.refusing.set()
        else:
            self.callback_endpoint.refusing.clear()

    def stop_extractor(self, *, crash: bool = False) -> None:
        assert self.extractor is not None
        self.extractor.kill() if crash else self.extractor.stop()

    def start_extractor(self) -> None:
        assert self.extractor is not None
        self.extractor.start()

    def poll_now(self) -> object:
        """Run the poller once right now (also keeps running on its schedule)."""
        assert self.poller is not None
        return self.poller.run_once()


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - one component failing to stop must not strand the others
        log.warning("stopping %s failed: %s", getattr(action, "__qualname__", action), type(error).__name__)
