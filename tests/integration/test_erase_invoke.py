"""`ktp erase --stack`: the EraseFunction is found among the stack's resources and invoked through
Lambda's Invoke API (stub clients: no AWS account here); its errors surface as their type only."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from local import erase_invoke
from local.state import StackInfo

INFO = StackInfo(kind="cloudformation", stack_name="ktp-prod", region="ap-southeast-3", bucket="b", table="t")


class CloudFormation:
    def describe_stack_resources(self, StackName):
        assert StackName == "ktp-prod"
        return {"StackResources": [{"LogicalResourceId": "JobsTable", "PhysicalResourceId": "t"},
                                   {"LogicalResourceId": "EraseFunction", "PhysicalResourceId": "ktp-prod-Erase-1"}]}


class Lambda:
    def __init__(self, payload, function_error=None):
        self.payload, self.function_error, self.calls = payload, function_error, []

    def invoke(self, **request):
        self.calls.append(request)
        answer = {"Payload": io.BytesIO(json.dumps(self.payload).encode())}
        return answer | ({"FunctionError": self.function_error} if self.function_error else {})


def _stub(monkeypatch, awslambda):
    clients = {"cloudformation": CloudFormation(), "lambda": awslambda}
    monkeypatch.setattr("local.aws_clients.client", lambda service, endpoint, region: clients[service])


def test_deployed_stack_is_invoked_synchronously_with_the_request(monkeypatch):
    awslambda = Lambda({"ok": True, "jobs_erased": 2})
    _stub(monkeypatch, awslambda)
    answer = erase_invoke.invoke_erase(INFO, {"nik": "3171234567890001"}, template_path=Path("template.yaml"))
    assert answer == {"ok": True, "jobs_erased": 2}
    (call,) = awslambda.calls
    assert call["FunctionName"] == "ktp-prod-Erase-1" and call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"]) == {"nik": "3171234567890001"}


def test_a_function_error_names_only_its_type(monkeypatch):
    _stub(monkeypatch, Lambda({"errorType": "ClientError", "errorMessage": "nik 3171234567890001"}, "Unhandled"))
    with pytest.raises(RuntimeError) as raised:
        erase_invoke.invoke_erase(INFO, {"nik": "3171234567890001"}, template_path=Path("template.yaml"))
    assert str(raised.value) == "EraseFunction failed: ClientError"


def test_a_stack_without_the_function_says_so(monkeypatch):
    class Old(CloudFormation):
        def describe_stack_resources(self, StackName):
            return {"StackResources": [{"LogicalResourceId": "JobsTable", "PhysicalResourceId": "t"}]}

    with pytest.raises(LookupError, match="no EraseFunction"):
        erase_invoke.erase_function_name(INFO, Old())
