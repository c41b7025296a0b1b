"""CloudFormation refuses templates whose resources depend on each other in a circle; prove there is none."""

from __future__ import annotations

from template_tools import deep_copy, dependency_graph, find_cycle


def test_translated_template_is_acyclic(cfn):
    assert find_cycle(dependency_graph(cfn)) is None


def test_graph_sees_the_edges_that_matter(cfn):
    graph = dependency_graph(cfn)
    assert "SubmitFunctionUploadPermission" in graph["UploadBucket"]  # DependsOn
    assert "SubmitFunction" in graph["UploadBucket"]  # NotificationConfiguration GetAtt
    assert "SubmitFunction" in graph["SubmitFunctionUploadPermission"]  # Ref
    assert "SubmitFunctionRole" in graph["SubmitFunction"]  # GetAtt
    assert "CallbackFunction" in graph["HttpApi"]  # ${CallbackFunction.Arn} inside the OpenAPI body
    assert "HttpApi" in graph["SubmitFunction"]  # CALLBACK_URL's ${HttpApi}
    assert "UploadBucket" in graph["PollerFunctionRole"]  # ${UploadBucket.Arn}: fine, no S3 event on the poller


def test_referencing_the_bucket_from_submit_would_create_a_cycle(cfn):
    """Why the bucket name is computed: the obvious `!Ref UploadBucket` closes a loop."""
    broken = deep_copy(cfn)
    variables = broken["Resources"]["SubmitFunction"]["Properties"]["Environment"]["Variables"]
    variables["UPLOAD_BUCKET_NAME"] = {"Ref": "UploadBucket"}
    cycle = find_cycle(dependency_graph(broken))
    assert cycle is not None
    assert {"UploadBucket", "SubmitFunction"} <= set(cycle)


def test_callback_function_referencing_its_api_would_create_a_cycle(cfn):
    """Why CALLBACK_URL is given to submit and poller only."""
    broken = deep_copy(cfn)
    variables = broken["Resources"]["CallbackFunction"]["Properties"]["Environment"]["Variables"]
    assert "CALLBACK_URL" not in variables
    variables["CALLBACK_URL"] = {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/callback"}
    cycle = find_cycle(dependency_graph(broken))
    assert cycle is not None
    assert {"HttpApi", "CallbackFunction"} <= set(cycle)


def test_find_cycle_reports_a_closed_path():
    assert find_cycle({"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": set()}) == ["A", "B", "C", "A"]
    assert find_cycle({"A": {"B"}, "B": set(), "C": {"A", "B"}}) is None
