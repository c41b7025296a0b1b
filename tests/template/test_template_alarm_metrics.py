"""The straggler alarm watches a metric the poller really emits, with exactly its dimensions.

CloudWatch matches metrics on namespace, name and the full dimension set; an alarm that is off by
one dimension stays green forever. So run the real poller handler (its sweep stubbed) and read the
EMF it prints.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from dataclasses import dataclass, field

import pytest
from template_tools import REPO_ROOT


@dataclass
class _Context:
    function_name: str = "poller"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-southeast-3:123456789012:function:poller"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 200_000


class _StubSweep:
    def run(self, remaining_ms) -> dict[str, int]:
        assert remaining_ms() > 0
        return {"checked": 3, "timed_out": 2}


def _emf_documents(output: str) -> list[dict]:
    documents = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            document = json.loads(line)
            if "_aws" in document:
                documents.append(document)
    return documents


def test_straggler_alarm_matches_the_emitted_metric(resources, capsys, monkeypatch):
    path = REPO_ROOT / "functions" / "poller" / "app.py"
    spec = importlib.util.spec_from_file_location("_template_test_poller_app", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.wiring, "poller", lambda: _StubSweep())

    capsys.readouterr()
    module.lambda_handler({}, _Context())
    documents = _emf_documents(capsys.readouterr().out)
    assert documents, "the poller printed no EMF metrics"

    (alarm,) = [
        r["Properties"] for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] not in ("AWS/Lambda", "AWS/SQS", "AWS/ApiGateway")
    ]
    alarm_dimensions = sorted(d["Name"] for d in alarm["Dimensions"])
    matching = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names = {m["Name"] for m in directive["Metrics"]}
            if directive["Namespace"] == alarm["Namespace"] and alarm["MetricName"] in names:
                matching.append((document, directive))
    assert matching, f"no {alarm['Namespace']}/{alarm['MetricName']} in the poller's EMF output"
    for document, directive in matching:
        assert [sorted(d) for d in directive["Dimensions"]] == [alarm_dimensions]
        value = document[alarm["MetricName"]]
        total = sum(value) if isinstance(value, list) else value  # Powertools v3 emits a list of values
        assert total == pytest.approx(2)
