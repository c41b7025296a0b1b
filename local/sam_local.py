"""Files for ``sam local invoke`` / ``sam local start-api`` against a running ``ktp up``.

``ktp up`` writes ``<data-dir>/sam/``:

- ``env.json``: the ``--env-vars`` file, ``{"SubmitFunction": {"VAR": "value"}, ...}``. For each
  function it holds exactly the variables ``template.yaml`` declares for it (SAM CLI ignores any
  other name), with the values the local stack resolved for its own copy of that function
  (``local.stack.LocalStack._function_config``): the stack's table, secrets and index names, and
  its endpoints. Nothing is listed here a second time.
- ready-to-use events, copies of ``events/*.json`` naming the stack's bucket, a sample card, the
  sample job's ``reference_id`` and the stack's callback credentials.

SAM runs the function in a container, where 127.0.0.1 is the container itself; every loopback URL
the *function* connects to (moto, the extractor) is rewritten to ``host.docker.internal``. A URL
the function only hands on to the provider (``CALLBACK_URL``) keeps the host's view, because the
extractor that calls it runs on the host.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

from ktp_pipeline.reference_ids import reference_id_for
from ktp_pipeline.settings import Settings

from local.functions import REPO_ROOT, FunctionConfig

HOST_ALIAS = "host.docker.internal"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Variables whose URL is called by the provider, not by the function (see the module docstring).
PROVIDER_FACING = frozenset({Settings.env_names()["callback_url"]})

SAM_DIR = "sam"
ENV_FILE = "env.json"
EVENTS_DIR = REPO_ROOT / "events"
# The sample card lives outside any upload prefix the template allows, so the running stack's own
# S3 trigger ignores it and only a `sam local invoke` submits it.
SAMPLE_KEY = "sam-local/kartu contoh+1.jpg"
SAMPLE_SEED = 11


def sam_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / SAM_DIR


def container_view(name: str, value: str) -> str:
    """`value` as the function sees its target from inside SAM's container."""
    if name in PROVIDER_FACING or "://" not in value:
        return value
    parts = urlsplit(value)
    if parts.hostname not in LOOPBACK_HOSTS:
        return value
    netloc = HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def env_vars(functions: Mapping[str, FunctionConfig]) -> dict[str, dict[str, str]]:
    """The `--env-vars` document: per function, the template's variables with the local values."""
    return {
        logical_id: {name: container_view(name, config.environment.get(name, value))
                     for name, value in sorted(config.spec.environment.items())}
        for logical_id, config in functions.items()
    }


def _write_private(path: Path, document: Any) -> None:
    """0600: the callback events carry the stack's Basic-auth pair."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def _template_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))


@cache
def _sample_card() -> bytes:
    """The sample card's JPEG, drawn once per process: it is the same card for every stack (a fixed
    seed), and drawing it costs about 0.3 s of CPU, paid again by each stack a process starts."""
    from extractor.synth import generate_card

    image, _truth = generate_card(SAMPLE_SEED, "clean")
    return image


def ensure_sample_object(s3: Any, bucket: str) -> dict[str, Any]:
    """Put the synthetic sample card once (a restart finds it restored); its S3 identity."""
    try:
        head = s3.head_object(Bucket=bucket, Key=SAMPLE_KEY)
    except s3.exceptions.ClientError:
        s3.put_object(Bucket=bucket, Key=SAMPLE_KEY, Body=_sample_card(), ContentType="image/jpeg")
        head = s3.head_object(Bucket=bucket, Key=SAMPLE_KEY)
    return {"key": SAMPLE_KEY, "etag": head["ETag"].strip('"'), "version_id": head.get("VersionId"),
            "size": head["ContentLength"]}


def s3_put_event(bucket: str, region: str, sample: Mapping[str, Any]) -> dict[str, Any]:
    event = _template_event("s3_put.json")
    record = event["Records"][0]
    record["awsRegion"] = region
    record["s3"]["bucket"].update({"name": bucket, "arn": f"arn:aws:s3:::{bucket}"})
    obj = record["s3"]["object"]
    obj.update({"key": quote_plus(sample["key"], safe="/"), "eTag": sample["etag"], "size": sample["size"]})
    if sample.get("version_id"):
        obj["versionId"] = sample["version_id"]
    else:
        obj.pop("versionId", None)
    return event


def callback_event(name: str, reference_id: str, username: str | None = None, password: str | None = None) -> dict[str, Any]:
    """events/<name> for `reference_id`; with the stack's Basic-auth pair when one is given."""
    event = _template_event(name)
    body = json.loads(event["body"])
    body["data"]["reference_id"] = reference_id
    event["body"] = json.dumps(body, ensure_ascii=False)
    if username is not None and password is not None:
        event["headers"]["authorization"] = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    return event


def scheduled_event(region: str) -> dict[str, Any]:
    event = _template_event("poller_schedule.json")
    event["region"] = region
    return event


def write_files(data_dir: Path, *, functions: Mapping[str, FunctionConfig], s3: Any, bucket: str, region: str,
                credentials: Mapping[str, str]) -> Path:
    """Write `<data_dir>/sam/` (env file and events); the env file's path."""
    directory = sam_dir(data_dir)
    directory.mkdir(mode=0o700, exist_ok=True)
    sample = ensure_sample_object(s3, bucket)
    sample_reference_id = reference_id_for(bucket, sample["key"], sample.get("version_id"), sample["etag"])
    user, password = credentials["callback_username"], credentials["callback_password"]
    documents = {
        ENV_FILE: env_vars(functions),
        "s3_put.json": s3_put_event(bucket, region, sample),
        "callback_success.json": callback_event("callback_success.json", sample_reference_id, user, password),
        "callback_failure.json": callback_event("callback_failure.json", sample_reference_id, user, password),
        # Keeps the template's wrong password: the 401 case.
        "callback_bad_auth.json": callback_event("callback_bad_auth.json", sample_reference_id),
        "poller_schedule.json": scheduled_event(region),
    }
    for name, document in documents.items():
        _write_private(directory / name, copy.deepcopy(document))
    return directory / ENV_FILE
