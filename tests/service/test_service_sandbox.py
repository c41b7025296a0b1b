"""Sandbox mode: the contract's magic image and reference codes, over real HTTP."""

from __future__ import annotations

import pytest
from service_harness import AUTH, Service, b64, expected_basic_auth, jpeg, wait_until

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # Sandbox mode runs no OCR: the engine module is never imported (a bogus name proves it).
    service = Service(
        data_dir=tmp_path_factory.mktemp("sandbox") / "data", extra_args=["--sandbox", "--local"], engine="no.such.engine"
    ).start()
    with service.client() as http:
        yield http
    service.kill()


def _flags(*on):
    return {k: k in on for k in ("blur", "dark", "flashlight", "grayscale")}


@pytest.mark.parametrize(
    "code, flags",
    [("KTP", ()), ("KTP_B", ("blur",)), ("KTP_D", ("dark",)), ("KTP_F", ("flashlight",)), ("KTP_G", ("grayscale",)),
     ("KTP_BD", ("blur", "dark")), ("KTP_BF", ("blur", "flashlight")), ("KTP_BG", ("blur", "grayscale")),
     ("KTP_DG", ("dark", "grayscale")), ("KTP_FG", ("flashlight", "grayscale"))],
)
def test_image_codes_with_and_without_quality_validation(client, code, flags):
    accepted = client.post(SUBMIT, headers=AUTH, json={"image": code, "reference_id": "REFERENCE_ID"})
    assert accepted.json() == {"message": "accepted", "data": {"reference_id": f"REFERENCE_ID_{code}"}}
    body = client.get(RESULT, params={"reference_id": f"REFERENCE_ID_{code}"}, headers=AUTH).json()
    assert "error_code" not in body
    assert body["data"]["image_quality"] == _flags(*flags)
    assert body["data"]["full_name"] == "CONTOH SANDBOX"
    assert body["ktp_extractor"]["sandbox"] is True

    validated = client.post(SUBMIT, headers=AUTH, json={"image": code, "validate_quality": True})
    assert validated.json()["data"]["reference_id"] == f"REFERENCE_ID_{code}_V"
    body = client.get(RESULT, params={"reference_id": f"REFERENCE_ID_{code}_V"}, headers=AUTH).json()
    fails = bool(set(flags) & {"blur", "dark", "flashlight"})
    assert body.get("error_code") == ("FAIL_ON_1" if fails else None)


def test_no_ktp_detected(client):
    assert client.post(SUBMIT, headers=AUTH, json={"image": "NO_KTP_DETECTED"}).status_code == 200
    body = client.get(RESULT, params={"reference_id": "REFERENCE_ID_NO_KTP_DETECTED"}, headers=AUTH).json()
    assert body["error_code"] == "KTP_NOT_DETECTED"


@pytest.mark.parametrize(
    "body, status, code",
    [({"image": "IMAGE_SIZE_EXCEED_LIMIT"}, 400, "INVALID_PAYLOAD_IMAGE_SIZE"),
     ({"image": "KTP_X"}, 400, "INVALID_SANDBOX_CODE"),
     ({"image": b64(jpeg())}, 400, "INVALID_SANDBOX_CODE"),
     ({"image": "KTP", "reference_id": "REFERENCE_ID_EXIST"}, 400, "INVALID_PAYLOAD_REFERENCE_ID_EXISTS"),
     ({"image": "KTP", "reference_id": "REFERENCE_ID_TOO_LONG"}, 400, "INVALID_PAYLOAD_REFERENCE_ID"),
     ({"image": "KTP", "reference_id": "REFERENCE_ID_TOO_SHORT"}, 400, "INVALID_PAYLOAD_REFERENCE_ID"),
     ({"image": "KTP", "reference_id": "my-own-reference"}, 400, "INVALID_SANDBOX_CODE"),
     ({}, 400, "MISSING_PAYLOAD_IMAGE"),
     ({"image": "KTP", "validate_quality": 1}, 422, "BAD_PAYLOAD")],
)
def test_sandbox_errors(client, body, status, code):
    response = client.post(SUBMIT, headers=AUTH, json=body)
    assert response.status_code == status
    assert response.json()["error_code"] == code


def test_unknown_sandbox_result_is_404(client):
    response = client.get(RESULT, params={"reference_id": "REFERENCE_ID_KTP_Z"}, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error_code"] == "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND"


def test_sandbox_callback_is_delivered(client, listener):
    client.post(SUBMIT, headers=AUTH, json={"image": "KTP_D", "validate_quality": True, "callback_url": listener.url + "/cb/sbx"})
    (callback,) = wait_until(lambda: listener.for_path("/cb/sbx"), what="sandbox callback")
    assert callback.headers["Authorization"] == expected_basic_auth()
    expected = client.get(RESULT, params={"reference_id": "REFERENCE_ID_KTP_D_V"}, headers=AUTH).json()
    assert callback.json() == expected
    assert expected["error_code"] == "FAIL_ON_1"
