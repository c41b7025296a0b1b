"""Tracing is still there when it is on, and costs nothing when it is off (the X-Ray SDK is not imported).

Each case runs in a fresh interpreter: the X-Ray SDK patches botocore and httpx process-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

# Loads the three handlers as Lambda does, then invokes the poller with a stub behind wiring that
# annotates the trace and makes one (moto) DynamoDB call, capturing what the X-Ray recorder emits.
CHILD = r"""
import importlib.util, json, sys
from pathlib import Path

from ktp_pipeline import observability, wiring

repo = Path(sys.argv[1])


def load(name):
    spec = importlib.util.spec_from_file_location(f"app_{name}", repo / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "poller", 128, "request-1"
    invoked_function_arn = "arn:aws:lambda:ap-southeast-3:123456789012:function:poller"
    log_group_name, log_stream_name = "group", "stream"

    def get_remaining_time_in_millis(self):
        return 10_000


apps = {name: load(name) for name in ("submit", "callback", "poller")}
imported_by_handlers = "aws_xray_sdk" in sys.modules
sent = []
if observability.tracing_enabled():
    from aws_xray_sdk.core import xray_recorder

    class Capture:
        def send_entity(self, entity):
            sent.append(json.loads(entity.serialize()))

        def set_daemon_address(self, address):
            pass

    xray_recorder.emitter = Capture()


class Poller:
    def run(self, remaining):
        import boto3
        from moto import mock_aws

        observability.tracer.put_annotation(key="reference_id", value="ktp-0123456789")
        with mock_aws():
            boto3.client("dynamodb").list_tables()
        return {"checked": 1}


wiring.poller = Poller
apps["poller"].lambda_handler({}, Context())
print(json.dumps({"imported_by_handlers": imported_by_handlers,
                  "imported_after_call": "aws_xray_sdk" in sys.modules, "sent": sent}))
"""

LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",  # Powertools enables tracing inside Lambda only
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_DEFAULT_REGION": "ap-southeast-3",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "JOBS_TABLE_NAME": "jobs",
    "POWERTOOLS_SERVICE_NAME": "ktp-pipeline",
}


def run_child(extra_env: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_", "_X_AMZN"))}
    env.update(LAMBDA_ENV | extra_env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "layers" / "pipeline"), str(REPO)])
    out = subprocess.run([sys.executable, "-c", CHILD, str(REPO)], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("disabled", ["true", "1"])
def test_with_tracing_off_the_xray_sdk_is_never_imported(disabled):
    result = run_child({"POWERTOOLS_TRACE_DISABLED": disabled})
    assert result["imported_by_handlers"] is False
    assert result["imported_after_call"] is False
    assert result["sent"] == []


def test_with_tracing_on_the_handler_subsegment_annotation_and_aws_calls_are_emitted():
    result = run_child({})
    assert result["imported_by_handlers"] is True  # the Tracer is built when the handlers are imported
    sent = result["sent"]
    handler = [s for s in sent if s["name"] == "## lambda_handler"]
    assert len(handler) == 1, [s["name"] for s in sent]
    (handler,) = handler
    assert handler["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert handler["parent_id"] == "53995c3f42cd8ad8"  # under Lambda's own segment
    assert handler["annotations"]["reference_id"] == "ktp-0123456789"
    assert handler["annotations"]["ColdStart"] is True
    names = {s["name"] for s in sent} | {sub["name"] for s in sent for sub in s.get("subsegments", [])}
    assert "dynamodb" in names  # botocore is patched: AWS calls are subsegments


def test_tracing_enabled_follows_powertools_rule(monkeypatch):
    from ktp_pipeline import observability

    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    assert observability.tracing_enabled() is True
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert observability.tracing_enabled() is False
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    assert observability.tracing_enabled() is False
    monkeypatch.delenv("LAMBDA_TASK_ROOT")
    monkeypatch.delenv("AWS_SAM_LOCAL")
    assert observability.tracing_enabled() is False  # outside Lambda: no X-Ray daemon to talk to


def test_with_tracing_off_the_tracer_is_the_stand_in_and_decorators_return_the_function():
    from ktp_pipeline.observability import NoTracer, tracer

    assert isinstance(tracer, NoTracer)  # unit tests run outside Lambda, with tracing disabled

    def add(a, b):
        return a + b

    assert tracer.capture_method(add) is add
    assert tracer.capture_lambda_handler(add) is add
    tracer.put_annotation(key="k", value="v")  # a no-op, not an error
