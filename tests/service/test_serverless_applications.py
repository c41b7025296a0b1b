"""Which applications the serverless extractor accepts: its own ApplicationsSecret and, nested in
the pipeline (Provider=builtin), the pipeline's credential and callback secrets."""

from __future__ import annotations

import json

import pytest

from extractor.serverless.config import load_applications

OWN = json.dumps({"app_id": "ktp-pipeline", "api_key": "generated-by-the-extractor"})
PIPELINE = json.dumps({"app_id": "ktp-pipeline", "api_key": "generated-by-the-pipeline"})
CALLBACK = json.dumps({"username": "ktp-callback", "password": "pair-of-the-pipeline"})


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: list[str] = []

    def __call__(self, secret_id: str) -> str:
        self.read.append(secret_id)
        return self.values[secret_id]


def test_standalone_accepts_the_applications_secret_only():
    secrets = Secrets({"own": OWN})
    env = {"KTP_APPLICATIONS_SECRET_ID": "own", "KTP_PIPELINE_CREDENTIALS_SECRET_ID": "",
           "KTP_PIPELINE_CALLBACK_SECRET_ID": ""}
    (app,) = load_applications(secrets, env)
    assert (app.app_id, app.api_key, app.callback_user) == ("ktp-pipeline", "generated-by-the-extractor", None)
    assert secrets.read == ["own"]


def test_nested_the_pipelines_key_replaces_the_generated_one_and_signs_with_its_pair():
    secrets = Secrets({"own": OWN, "creds": PIPELINE, "cb": CALLBACK})
    env = {"KTP_APPLICATIONS_SECRET_ID": "own", "KTP_PIPELINE_CREDENTIALS_SECRET_ID": "creds",
           "KTP_PIPELINE_CALLBACK_SECRET_ID": "cb"}
    (app,) = load_applications(secrets, env)
    assert app.api_key == "generated-by-the-pipeline"
    assert (app.callback_user, app.callback_password) == ("ktp-callback", "pair-of-the-pipeline")


def test_other_applications_stay_accepted_beside_the_pipeline():
    own = json.dumps({"applications": [{"app_id": "partner", "api_key": "k", "callback_user": "u",
                                        "callback_password": "p"}]})
    secrets = Secrets({"own": own, "creds": PIPELINE, "cb": CALLBACK})
    env = {"KTP_APPLICATIONS_SECRET_ID": "own", "KTP_PIPELINE_CREDENTIALS_SECRET_ID": "creds",
           "KTP_PIPELINE_CALLBACK_SECRET_ID": "cb"}
    apps = {app.app_id: app for app in load_applications(secrets, env)}
    assert set(apps) == {"partner", "ktp-pipeline"}
    assert apps["partner"].callback_user == "u"  # its own pair, not the pipeline's


def test_a_callback_pair_alone_fills_in_applications_without_their_own():
    own = json.dumps({"applications": [{"app_id": "a", "api_key": "k"},
                                       {"app_id": "b", "api_key": "k", "callback_user": "u", "callback_password": "p"}]})
    secrets = Secrets({"own": own, "cb": CALLBACK})
    apps = {app.app_id: app for app in load_applications(
        secrets, {"KTP_APPLICATIONS_SECRET_ID": "own", "KTP_PIPELINE_CALLBACK_SECRET_ID": "cb"})}
    assert apps["a"].callback_user == "ktp-callback"
    assert apps["b"].callback_user == "u"


def test_the_worker_with_no_secret_ids_reads_no_secret():
    secrets = Secrets({})
    env = {"KTP_APPLICATIONS_SECRET_ID": "", "KTP_PIPELINE_CREDENTIALS_SECRET_ID": "",
           "KTP_PIPELINE_CALLBACK_SECRET_ID": ""}
    assert load_applications(secrets, env) == ()
    assert secrets.read == []


def test_a_malformed_pipeline_secret_fails_loudly():
    secrets = Secrets({"own": OWN, "creds": json.dumps({"app_id": "ktp-pipeline"})})
    with pytest.raises(KeyError):
        load_applications(secrets, {"KTP_APPLICATIONS_SECRET_ID": "own", "KTP_PIPELINE_CREDENTIALS_SECRET_ID": "creds"})
