"""`sam local invoke --env-vars <data-dir>/sam/env.json` against a running local stack, without Docker.

Each handler runs in its own process with the environment SAM CLI itself would give its container:
SAM CLI's own classes (`SamFunctionProvider`, `LocalLambdaRunner._make_env_vars`) resolve
template.yaml and the env file `ktp up` wrote; `host.docker.internal` resolves to 127.0.0.1
(sam_container/sitecustomize.py, what `--add-host host.docker.internal:127.0.0.1` does); the events
are the ready-to-use copies the stack wrote next to the env file. The effect is read from the table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import sam_local
from local.stack import LocalStack

from .conftest import TEST_EXTRACTOR_ARGS, TEST_FUNCTION_ENV, wait_for

REPO = Path(__file__).resolve().parents[2]
CONTAINER = Path(__file__).resolve().parent / "sam_container"
FUNCTIONS = ("SubmitFunction", "CallbackFunction", "PollerFunction")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # The stack's own poller stays idle (one run an hour), so what polls here is the SAM-style run.
    with LocalStack(tmp_path_factory.mktemp("sam-local"), poll_seconds=3600.0, function_env=TEST_FUNCTION_ENV,
                    extractor_args=TEST_EXTRACTOR_ARGS, extractor_workers=1, persist=False) as local_stack:
        yield local_stack


@pytest.fixture(scope="module")
def sam_functions():
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(str(REPO / "template.yaml"))
    return SamFunctionProvider(stacks)


def sam_environment(provider, logical_id: str, env_file: Path, region: str) -> dict[str, str]:
    """The container environment SAM CLI builds for `sam local invoke <id> --env-vars env_file`."""
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner

    runner = LocalLambdaRunner(local_runtime=None, function_provider=provider, cwd=str(REPO), real_path=str(REPO),
                               aws_region=region, env_vars_values=json.loads(env_file.read_text(encoding="utf-8")))
    runner.get_aws_creds = lambda: {"region": region}  # no credentials in the shell: SAM's dummy pair
    return runner._make_env_vars(provider.get(logical_id)).resolve()


def invoke(provider, logical_id: str, event_name: str, stack: LocalStack, tmp_path: Path) -> object:
    function = provider.get(logical_id)
    env_file = sam_local.sam_dir(stack.data_dir) / sam_local.ENV_FILE
    environment = sam_environment(provider, logical_id, env_file, stack.region)
    environment.update({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(CONTAINER)})
    result_file = tmp_path / f"{logical_id}-{time.monotonic_ns()}.json"
    layer_dir = REPO / function.layers[0].codeuri
    completed = subprocess.run(  # noqa: S603 - our interpreter, our runner
        [sys.executable, str(CONTAINER / "invoke.py"), str(REPO / function.codeuri), str(layer_dir), function.handler,
         str(sam_local.sam_dir(stack.data_dir) / event_name), str(result_file)],
        env=environment, cwd=str(REPO / function.codeuri), capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(result_file.read_text(encoding="utf-8"))


def test_env_file_holds_the_template_variables_of_each_function(stack, sam_functions):
    written = json.loads((sam_local.sam_dir(stack.data_dir) / sam_local.ENV_FILE).read_text(encoding="utf-8"))
    documented = json.loads((REPO / "events" / "env.json").read_text(encoding="utf-8"))
    for logical_id in FUNCTIONS:
        declared = set(sam_functions.get(logical_id).environment["Variables"])
        assert set(written[logical_id]) == declared == set(documented[logical_id]), logical_id
        env = written[logical_id]
        assert env["JOBS_TABLE_NAME"] == stack.info.table
        assert env["AWS_ENDPOINT_URL"] == stack.info.endpoint_url.replace("127.0.0.1", sam_local.HOST_ALIAS)
        if "PROVIDER_BASE_URL" in env:  # the extractor, seen from the container
            assert env["PROVIDER_BASE_URL"] == stack.extractor.url.replace("127.0.0.1", sam_local.HOST_ALIAS)
            assert env["CALLBACK_URL"] == stack.info.callback_url  # called by the extractor, on the host
        for name in ("PROVIDER_SECRET_ID", "CALLBACK_SECRET_ID"):  # the secrets the stack created
            if name in env:
                assert stack.aws_client("secretsmanager").describe_secret(SecretId=env[name])["ARN"] == env[name]


def test_submit_then_callback_write_the_table(stack, sam_functions, tmp_path):
    sample = json.loads((sam_local.sam_dir(stack.data_dir) / "s3_put.json").read_text())["Records"][0]["s3"]
    assert sample["bucket"]["name"] == stack.info.bucket
    reference_id = json.loads(json.loads(
        (sam_local.sam_dir(stack.data_dir) / "callback_success.json").read_text())["body"])["data"]["reference_id"]
    stack.refuse_callbacks(True)  # the extractor's own callback must not finish the job first
    try:
        invoke(sam_functions, "SubmitFunction", "s3_put.json", stack, tmp_path)
        record = stack.jobs.get(reference_id)
        assert record is not None
        assert (record["status"], record["object_key"], record["submit_attempts"]) == (
            "SUBMITTED", sam_local.SAMPLE_KEY, 1)

        refused = invoke(sam_functions, "CallbackFunction", "callback_bad_auth.json", stack, tmp_path)
        assert refused["statusCode"] == 401
        assert stack.jobs.get(reference_id)["status"] == "SUBMITTED"

        answer = invoke(sam_functions, "CallbackFunction", "callback_success.json", stack, tmp_path)
        assert answer["statusCode"] == 200, answer
        record = stack.jobs.get(reference_id)
        assert (record["status"], record["result_source"]) == ("COMPLETED", "callback")
        assert record["result"]["fields"]["full_name"] == "CONTOH NAMA"  # the event's body, not the OCR
    finally:
        stack.refuse_callbacks(False)


def test_poller_collects_a_result(stack, sam_functions, tmp_path, card_factory):
    stack.refuse_callbacks(True)
    try:
        image, _truth = card_factory(5)
        upload = stack.jobs.upload_bytes(image, "poll-me.jpg")  # the stack's own submit worker sends it
        wait_for(lambda: (stack.jobs.get(upload.reference_id) or {}).get("status") == "SUBMITTED",
                 timeout=60, what="the upload to be submitted")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            invoke(sam_functions, "PollerFunction", "poller_schedule.json", stack, tmp_path)
            record = stack.jobs.get(upload.reference_id)
            if record["status"] != "SUBMITTED":
                break
            time.sleep(1.0)  # FIRST_CHECK_SECONDS / POLL_BASE_SECONDS are a few seconds here
        assert (record["status"], record["result_source"]) == ("COMPLETED", "poll"), record["status"]
        assert record["result"]["fields"].get("nik")
        # The real extractor's details beyond the contract, as attributes of their own (docs/job-record.md).
        assert 0.0 <= record["result"]["field_confidence"]["nik"] <= 1.0
        assert record["result"]["valid_until"] and record["result"]["checks"]
    finally:
        stack.refuse_callbacks(False)


@pytest.mark.parametrize(("name", "value", "seen"), [
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566", "http://host.docker.internal:4566"),
    ("PROVIDER_BASE_URL", "http://localhost:4567/x", "http://host.docker.internal:4567/x"),
    ("PROVIDER_BASE_URL", "https://api.verihubs.com", "https://api.verihubs.com"),
    ("CALLBACK_URL", "http://127.0.0.1:4568/callback", "http://127.0.0.1:4568/callback"),  # the host's extractor calls it
    ("JOBS_TABLE_NAME", "ktp-local-JobsTable-X", "ktp-local-JobsTable-X"),
])
def test_container_view_rewrites_only_what_the_function_connects_to(name, value, seen):
    assert sam_local.container_view(name, value) == seen


def test_each_stack_gets_the_same_sample_card_drawn_once_per_process(monkeypatch):
    import boto3
    from moto import mock_aws

    import extractor.synth

    drawn: list[int] = []
    real = extractor.synth.generate_card
    monkeypatch.setattr(extractor.synth, "generate_card", lambda seed, level: drawn.append(seed) or real(seed, level))
    sam_local._sample_card.cache_clear()
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            samples = []
            for bucket in ("first-stack", "second-stack"):
                s3.create_bucket(Bucket=bucket)
                samples.append(sam_local.ensure_sample_object(s3, bucket))
            put = s3.get_object(Bucket="second-stack", Key=sam_local.SAMPLE_KEY)
            assert put["ContentType"] == "image/jpeg"
            assert put["Body"].read() == real(sam_local.SAMPLE_SEED, "clean")[0]
    finally:
        sam_local._sample_card.cache_clear()
    assert drawn == [sam_local.SAMPLE_SEED]
    assert samples[0]["etag"] == samples[1]["etag"] and samples[0]["size"] == samples[1]["size"]
