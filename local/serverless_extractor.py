"""The serverless extractor (serverless_extractor/template.yaml) on one machine: its real handlers
in the local function runtime, over moto's DynamoDB, S3, SQS and Secrets Manager.

- the HTTP API: a loopback server whose routes are the translated template's HttpApi routes, each
  request becoming a payload-2.0 event for ApiFunction (API Gateway's own 404 when no route matches);
- the SQS event sources: one poller per queue that receives batches, invokes the function and
  deletes what it did not report as failed; a crashed invocation deletes nothing, so the messages
  come back after their visibility timeout and end in the dead-letter queue after maxReceiveCount,
  as on AWS. The work queue's poller runs ScalingConfig.MaximumConcurrency invocations at once
  (``worker_concurrency`` locally).

Resources are created from the template's own definitions (key schema, redrive policies); only the
visibility timeouts may be shortened (``work_visibility_seconds``), so fault tests need no waiting.

``python -m local.serverless_extractor`` runs it until stdin closes or SIGTERM arrives.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from extractor.service.settings import parse_app_rate
from local.aws import MotoServer
from local.aws_clients import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, client
from local.events import HttpRequest, error_response, http_api_event, http_response_from_result, match_route
from local.functions import FunctionConfig, InvocationError, LocalFunction
from local.loopback_http import LoopbackHttpServer
from local.template import DEFAULT_REGION, FunctionSpec, function_code, http_routes, load_template, translate

log = logging.getLogger("ktp.local.serverless_extractor")

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "serverless_extractor" / "template.yaml"
ACCOUNT_ID = "123456789012"
API_ID = "localextractor"
POLL_WAIT_SECONDS = 1
DEFAULT_ROUTE_PATH = "/$default"
APPS_ENV = "KTP_SERVERLESS_APPS"  # comma-separated APP_ID:API_KEY[:CALLBACK_USER:CALLBACK_PASSWORD]
_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")
# What `sam build` puts on every function's path, taken from the source tree: extractor/ (the
# ExtractorCodeLayer of ApiFunction and CallbackFunction, and part of the OCR worker's own package,
# which has no layers: package_worker.py) and ktp_pipeline (PipelineLayer, or the worker's copy).
SOURCE_PATH = (REPO_ROOT, REPO_ROOT / "layers" / "pipeline")


@dataclass
class ExtractorOptions:
    applications: list[dict[str, Any]]
    port: int = 0
    region: str = DEFAULT_REGION
    data_dir: Path = Path("./ktp-serverless-extractor")
    worker_concurrency: int = 1
    work_visibility_seconds: int | None = None  # None: the template's
    callback_visibility_seconds: int | None = None
    extra_layer_dirs: tuple[Path, ...] = ()  # e.g. a stand-in engine for tests
    function_env: dict[str, str] = field(default_factory=dict)  # overrides (engine module, backoff, ...)
    parameters: dict[str, str] = field(default_factory=dict)  # template parameter overrides


def _cfn_value(value: Any, names: dict[str, str]) -> Any:
    """The few intrinsics the queue and table definitions use, resolved against created resources."""
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), = value.items()
        if key == "Fn::GetAtt":
            return names[f"{argument[0]}.{argument[1]}"]
        if key == "Ref":
            return names[argument]
    if isinstance(value, dict):
        return {k: _cfn_value(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_cfn_value(v, names) for v in value]
    return value


class ServerlessExtractor:
    def __init__(self, options: ExtractorOptions) -> None:
        self.options = options
        self.cfn = translate(load_template(TEMPLATE_PATH), options.parameters or None, region=options.region)
        self.resources = self.cfn["Resources"]
        self.moto = MotoServer()
        self.names: dict[str, str] = {}
        self.functions: dict[str, LocalFunction] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: LoopbackHttpServer | None = None
        self.url = ""

    # -- resources ----------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        return client(service, self.moto.endpoint_url, self.options.region)

    def _create_resources(self) -> None:
        ddb, s3, sqs, secrets = (self._client(s) for s in ("dynamodb", "s3", "sqs", "secretsmanager"))
        for name, resource in self.resources.items():
            if resource["Type"] == "AWS::DynamoDB::Table":
                props = resource["Properties"]
                table = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
                ddb.create_table(
                    TableName=table, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
                    BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
                )
                ttl = props.get("TimeToLiveSpecification")
                if ttl:
                    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
                self.names[name] = table
            elif resource["Type"] == "AWS::S3::Bucket":
                bucket = f"{name.lower()}-{uuid.uuid4().hex[:8]}"
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.options.region})
                self.names[name] = bucket
            elif resource["Type"] == "AWS::SecretsManager::Secret":
                secret = secrets.create_secret(
                    Name=f"{name}-{uuid.uuid4().hex[:8]}",
                    SecretString=json.dumps({"applications": self.options.applications}),
                )
                self.names[name] = secret["ARN"]
        queues = {n: r for n, r in self.resources.items() if r["Type"] == "AWS::SQS::Queue"}
        # Dead-letter queues first: the others' redrive policies name them.
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n].get("Properties", {})):
            props = queues[name].get("Properties", {})
            attributes = {}
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"):
                if key in props:
                    attributes[key] = str(props[key])
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(_cfn_value(props["RedrivePolicy"], self.names))
            override = {"WorkQueue": self.options.work_visibility_seconds,
                        "CallbackQueue": self.options.callback_visibility_seconds}.get(name)
            if override is not None:
                attributes["VisibilityTimeout"] = str(override)
            url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.names[name] = url
            self.names[f"{name}.Arn"] = arn
            self.names[f"{name}.QueueName"] = arn.rsplit(":", 1)[1]

    # -- functions ----------------------------------------------------------------------------------

    def _value(self, value: Any) -> str:
        """A property that is a literal, a parameter Ref (override or default) or a resource Ref."""
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            parameter = (self.cfn.get("Parameters") or {}).get(ref)
            if parameter is not None:
                return str(self.options.parameters.get(ref, parameter.get("Default", "")))
            return self.names[ref]
        return str(value)

    def _environment(self, logical_id: str) -> dict[str, str]:
        props = self.resources[logical_id]["Properties"]
        variables = (props.get("Environment") or {}).get("Variables") or {}
        return {key: self._value(value) for key, value in variables.items()}

    def _function(self, logical_id: str, max_concurrency: int) -> LocalFunction:
        props = self.resources[logical_id]["Properties"]
        # The template's layer folders are build inputs (a Makefile), not importable trees.
        code_dir, _ = function_code(self.cfn, REPO_ROOT / "serverless_extractor", logical_id)
        handler_module, _, handler_function = props["Handler"].rpartition(".")
        spec = FunctionSpec(
            logical_id=logical_id, code_dir=code_dir, handler_module=handler_module, handler_function=handler_function,
            layer_dirs=(*SOURCE_PATH, *self.options.extra_layer_dirs), environment=self._environment(logical_id),
            timeout_seconds=int(self._value(props.get("Timeout", 3))),
            memory_mb=int(self._value(props.get("MemorySize", 128))),
        )
        name = f"local-extractor-{logical_id}"
        environment = {key: os.environ[key] for key in _PASSTHROUGH_ENV if key in os.environ}
        environment.update(
            {
                "AWS_REGION": self.options.region, "AWS_DEFAULT_REGION": self.options.region,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
                "AWS_ENDPOINT_URL": self.moto.endpoint_url, "AWS_LAMBDA_FUNCTION_NAME": name,
                "TZ": "UTC", "PYTHONUNBUFFERED": "1",
                # Callbacks and image URLs on 127.0.0.1 are allowed: this only ever runs locally.
                "KTP_LOCAL": "1",
            }
        )
        environment.update(spec.environment)
        environment.update(self.options.function_env)
        config = FunctionConfig(
            spec=spec, environment=environment, function_name=name,
            function_arn=f"arn:aws:lambda:{self.options.region}:{ACCOUNT_ID}:function:{name}",
            log_path=self.options.data_dir / "logs" / f"{logical_id}.log", max_concurrency=max_concurrency,
        )
        return LocalFunction(config)

    # -- event sources ------------------------------------------------------------------------------

    def _serve_http(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        request = HttpRequest(
            method=handler.command, path=path, query=query, headers=list(handler.headers.items()),
            body=handler.rfile.read(length) if length else b"",
        )
        routes = [(r.method, r.path) for r in http_routes(self.cfn, "ApiFunction")]
        # The $default route (SAM writes it as the path "/$default") takes what no other route matches.
        matched = match_route([r for r in routes if r[1] != DEFAULT_ROUTE_PATH], request.method, path)
        if matched is None and any(p == DEFAULT_ROUTE_PATH for _, p in routes):
            matched = ("$default", {})
        if matched is None:
            response = error_response(404, "Not Found")
        else:
            event = http_api_event(
                request, route_key=matched[0], api_id=API_ID, region=self.options.region, account_id=ACCOUNT_ID,
                path_parameters=matched[1] or None,
            )
            try:
                response = http_response_from_result(self.functions["ApiFunction"].invoke(event))
            except InvocationError:
                response = error_response(500, "Internal Server Error")
        handler.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)

    def _poll(self, queue_id: str, function_id: str, batch_size: int) -> None:
        sqs = self._client("sqs")
        url, arn = self.names[queue_id], self.names[f"{queue_id}.Arn"]
        function = self.functions[function_id]
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=POLL_WAIT_SECONDS,
                    AttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - moto going away at shutdown
                if self._stop.is_set():
                    return
                log.exception("receive from %s failed", queue_id)
                time.sleep(0.5)
                continue
            if not messages:
                continue
            event = {"Records": [_sqs_record(m, arn, self.options.region) for m in messages]}
            try:
                answer = function.invoke(event) or {}
            except InvocationError as error:
                log.warning("%s invocation failed (%s); its messages return after the visibility timeout",
                            function_id, error.error_type)
                continue
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    def _sqs_event_source(self, function_id: str) -> tuple[str, int]:
        for resource in self.resources.values():
            if resource["Type"] == "AWS::Lambda::EventSourceMapping" and resource["Properties"]["FunctionName"] == {"Ref": function_id}:
                queue_id = resource["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
                return queue_id, int(resource["Properties"].get("BatchSize", 10))
        raise LookupError(f"no SQS event source for {function_id}")

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> str:
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        self.moto.start()
        self._create_resources()
        workers = self.options.worker_concurrency
        self.functions = {
            "ApiFunction": self._function("ApiFunction", 4),
            "OcrWorkerFunction": self._function("OcrWorkerFunction", workers),
            "CallbackFunction": self._function("CallbackFunction", 1),
        }
        for function in self.functions.values():
            function.warm_up()
        sources = [("OcrWorkerFunction", workers), ("CallbackFunction", 1)]
        for function_id, pollers in sources:
            queue_id, batch = self._sqs_event_source(function_id)
            for index in range(pollers):
                thread = threading.Thread(
                    target=self._poll, args=(queue_id, function_id, batch), name=f"{function_id}-poll-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        self._http = LoopbackHttpServer(self._serve_http, port=self.options.port, name="extractor-http-api")
        self._http.start()
        self.url = self._http.url()
        return self.url

    def dead_letter_counts(self) -> dict[str, int]:
        sqs = self._client("sqs")
        counts = {}
        for name in ("WorkDeadLetterQueue", "CallbackDeadLetterQueue"):
            attributes = sqs.get_queue_attributes(QueueUrl=self.names[name], AttributeNames=["ApproximateNumberOfMessages"])
            counts[name] = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        return counts

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.stop()
        for thread in self._threads:
            thread.join(POLL_WAIT_SECONDS + 5)
        for function in self.functions.values():
            function.close()
        self.moto.stop()


def _sqs_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region,
    }


def parse_application(spec: str) -> dict[str, str]:
    """APP_ID:API_KEY[:CALLBACK_USER:CALLBACK_PASSWORD], as `ktp serve --app` takes it."""
    parts = spec.split(":", 3)
    entry = {"app_id": parts[0], "api_key": parts[1]}
    if len(parts) == 4:
        entry.update(callback_user=parts[2], callback_password=parts[3])
    return entry


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.serverless_extractor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path("./ktp-serverless-extractor"))
    parser.add_argument("--app", action="append", default=[], help="APP_ID:API_KEY[:CALLBACK_USER:CALLBACK_PASSWORD]")
    parser.add_argument("--app-rate", action="append", default=[], metavar="APP_ID=RATE[:BURST]",
                        help="an application's own submit rate (per second, 0 = unlimited), as `ktp serve --app-rate`")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engine", default=None, help="engine module (default: the template's, extractor.engine)")
    parser.add_argument("--engine-path", type=Path, action="append", default=[], help="extra layer directory")
    parser.add_argument("--work-visibility", type=int, default=None)
    parser.add_argument("--callback-visibility", type=int, default=None)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every function")
    parser.add_argument("--parameter", action="append", default=[], help="template parameter NAME=VALUE")
    parser.add_argument("--ready-file", type=Path, default=None, help="written with the URL once serving")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    function_env = dict(item.split("=", 1) for item in args.env)
    if args.engine:
        function_env["KTP_ENGINE_MODULE"] = args.engine
    # Credentials may come in the environment instead of the command line (visible to every user).
    specs = [*args.app, *filter(None, os.environ.pop(APPS_ENV, "").split(","))]
    if not specs:
        parser.error(f"give at least one --app (or {APPS_ENV})")
    applications = [parse_application(spec) for spec in specs]
    for rate_spec in args.app_rate:
        # Written into the applications secret, where a deployed extractor's per-app rates live.
        app_id, rate, burst = parse_app_rate(rate_spec)
        entry = next((e for e in applications if e["app_id"] == app_id), None)
        if entry is None:
            parser.error("--app-rate names an App-ID that no --app configures")
        entry.update(submit_rate=rate, **({"submit_burst": burst} if burst else {}))
    options = ExtractorOptions(
        applications=applications, port=args.port, data_dir=args.data_dir,
        worker_concurrency=args.workers, work_visibility_seconds=args.work_visibility,
        callback_visibility_seconds=args.callback_visibility,
        extra_layer_dirs=tuple(path.resolve() for path in args.engine_path), function_env=function_env,
        parameters=dict(item.split("=", 1) for item in args.parameter),
    )
    extractor = ServerlessExtractor(options)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    url = extractor.start()
    try:
        if args.ready_file:
            # What a test needs to look inside: the URL, moto's endpoint and the resource names.
            info = {"url": url, "endpoint_url": extractor.moto.endpoint_url, "region": options.region,
                    "names": extractor.names}
            temp = args.ready_file.with_suffix(".tmp")
            temp.write_text(json.dumps(info))
            temp.replace(args.ready_file)
        log.info("serverless extractor serving at %s", url)
        stopped.wait()
    finally:
        extractor.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
