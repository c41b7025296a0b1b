"""``--stack NAME``: CloudFormation Outputs → StackInfo (boto3 stubbed; no AWS account here)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from local.remote import output_names_from_template, stack_info_from_cloudformation

REPO = Path(__file__).resolve().parents[2]


def stack_description(outputs: dict[str, str]) -> dict:
    return {
        "Stacks": [
            {
                "StackName": "ktp-prod",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


@pytest.fixture
def cloudformation():
    client = boto3.client("cloudformation", region_name="ap-southeast-3")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_outputs_of_the_repo_template_map_to_the_stack_info(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_response(
        "describe_stacks",
        stack_description({
            "UploadBucketName": "ktp-uploads-1-ap-southeast-3-abc",
            "UploadPrefix": "incoming/",
            "JobsTableName": "ktp-prod-JobsTable-XYZ",
            "CallbackUrl": "https://abc.execute-api.ap-southeast-3.amazonaws.com/callback",
            "CompletionEventBusName": "ktp-prod-completion-events",
            "Unrelated": "x",
        }),
        {"StackName": "ktp-prod"},
    )
    info = stack_info_from_cloudformation("ktp-prod", region="ap-southeast-3", cloudformation=client,
                                          template_path=REPO / "template.yaml")
    assert info.kind == "cloudformation"
    assert info.endpoint_url is None
    assert info.bucket == "ktp-uploads-1-ap-southeast-3-abc"
    assert info.table == "ktp-prod-JobsTable-XYZ"
    assert info.upload_prefix == "incoming/"
    assert info.callback_url == "https://abc.execute-api.ap-southeast-3.amazonaws.com/callback"
    assert info.completion_event_bus == "ktp-prod-completion-events"  # what `ktp watch --events --stack` subscribes
    assert "--endpoint-url" not in info.aws_cli_hint()


def test_missing_outputs_fall_back_to_stack_resources(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", stack_description({}), {"StackName": "old"})
    for logical_id, physical in (("UploadBucket", "old-bucket"), ("JobsTable", "old-table")):
        stubber.add_response(
            "describe_stack_resource",
            {"StackResourceDetail": {"LogicalResourceId": logical_id, "PhysicalResourceId": physical,
                                     "ResourceType": "AWS::X", "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                                     "ResourceStatus": "CREATE_COMPLETE"}},
            {"StackName": "old", "LogicalResourceId": logical_id},
        )
    info = stack_info_from_cloudformation("old", region="ap-southeast-3", cloudformation=client, template_path=None)
    assert (info.bucket, info.table, info.upload_prefix) == ("old-bucket", "old-table", "")


def test_output_names_follow_what_the_template_declares(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(
        """
        Resources: {}
        Outputs:
          Bucket: {Value: !Ref UploadBucket}
          Table: {Value: !Ref JobsTable}
          Hook: {Value: !Sub "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/callback"}
        """
    ))
    names = output_names_from_template(template)
    assert names["bucket"] == "Bucket"
    assert names["table"] == "Table"
    assert names["callback_url"] == "Hook"
    assert names["upload_prefix"] == "UploadPrefix"  # not declared: the default name


def test_a_stack_that_does_not_exist_is_an_error(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id nope does not exist")
    with pytest.raises(client.exceptions.ClientError, match="does not exist"):
        stack_info_from_cloudformation("nope", region="ap-southeast-3", cloudformation=client)
