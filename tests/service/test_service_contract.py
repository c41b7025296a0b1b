"""Contract suite over real HTTP on 127.0.0.1 (fake OCR engine), run against both homes of the
extractor: `ktp serve` (SQLite and files) and the serverless extractor's handlers on moto
(DynamoDB, S3, SQS) behind the local HTTP API emulation."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from service_harness import (
    API_KEY,
    APP2_ID,
    APP_ID,
    AUTH,
    AUTH2,
    ServerlessService,
    Service,
    b64,
    expected_basic_auth,
    jpeg,
    png,
    wait_until,
)

from extractor.result import CONTRACT_FIELDS

pytestmark = pytest.mark.slow

SUBMIT = "/ktp/id/extract-async"
RESULT = "/ktp/id/extract-async/result"


@pytest.fixture(scope="module", params=["serve", "serverless"])
def service(request, tmp_path_factory, gate, listener):
    # One listener serves both homes' runs: start each with no callbacks recorded by the other.
    listener.received.clear()
    listener.statuses.clear()
    data_dir = tmp_path_factory.mktemp(f"contract-{request.param}") / "data"
    if request.param == "serve":
        svc = Service(
            data_dir=data_dir,
            extra_args=["--local", "--callback-backoff", "0.05", "--callback-max-attempts", "4"],
            env={"FAKE_ENGINE_GATE": str(gate)},
        )
    else:
        svc = ServerlessService(
            data_dir=data_dir,
            env={"FAKE_ENGINE_GATE": str(gate), "KTP_CALLBACK_BACKOFF_SECONDS": "0.05", "KTP_CALLBACK_MAX_ATTEMPTS": "4"},
        )
    svc.start()
    yield svc
    svc.kill()


@pytest.fixture
def client(service):
    with service.client() as http:
        yield http


def submit(client, body, headers=AUTH):
    return client.post(SUBMIT, json=body, headers=headers)


def result(client, reference_id, headers=AUTH):
    return client.get(RESULT, params={"reference_id": reference_id}, headers=headers)


def wait_result(client, reference_id, headers=AUTH):
    def finished():
        answer = result(client, reference_id, headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return body if body["message"] != "processing" else None

    return wait_until(finished, what=f"result of {reference_id}")


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json() == {"message": response.json()["message"], "error_code": code}
    assert response.json()["message"]


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"App-ID": APP_ID}, {"API-Key": API_KEY}, {"App-ID": APP_ID, "API-Key": "wrong"},
     {"App-ID": "nobody", "API-Key": API_KEY}, {"App-ID": APP2_ID, "API-Key": API_KEY}],
)
def test_bad_credentials_are_401_on_both_endpoints(client, headers):
    for response in (submit(client, {"image": b64(jpeg())}, headers), result(client, "abcdef", headers)):
        assert response.status_code == 401
        assert response.json() == {"message": "Authorization failed"}


# --- request validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, code",
    [(b"", "INVALID_PAYLOAD"), (b"not json", "INVALID_PAYLOAD"), (b"[1, 2]", "INVALID_PAYLOAD"),
     (b'"text"', "INVALID_PAYLOAD"), (b'{"image": "", "reference_id": ""}', "INVALID_PAYLOAD"),
     (b"{}", "MISSING_PAYLOAD_IMAGE"), (b'{"validate_quality": false}', "MISSING_PAYLOAD_IMAGE")],
)
def test_payload_shape_errors(client, raw, code):
    response = client.post(SUBMIT, content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert_error(response, 400, code)


@pytest.mark.parametrize(
    "body",
    [{"image": 123}, {"image": ["x"]}, {"image": b64(jpeg()), "validate_quality": "yes"},
     {"image": b64(jpeg()), "reference_id": 12345678}, {"image": b64(jpeg()), "callback_url": {"u": 1}}],
)
def test_wrong_json_types_are_422_bad_payload(client, body):
    assert_error(submit(client, body), 422, "BAD_PAYLOAD")


@pytest.mark.parametrize("image", ["", "   ", None, "ftp://example.com/a.jpg", "not base64 at all!", "@@@@"])
def test_image_neither_base64_nor_url(client, image):
    assert_error(submit(client, {"image": image}), 400, "INVALID_PAYLOAD_IMAGE_MISSING")


@pytest.mark.parametrize("reference_id", ["abc", "a" * 65, "has space!", "ümlaut-id", ""])
def test_reference_id_bounds(client, reference_id):
    assert_error(submit(client, {"image": b64(jpeg()), "reference_id": reference_id}), 400, "INVALID_PAYLOAD_REFERENCE_ID")


@pytest.mark.parametrize(
    "url",
    ["", None, "not a url", "ftp://example.com/cb", "http://example.com/cb", "https://10.0.0.5/cb",
     "https://169.254.169.254/latest", "https://user:pw@example.com/cb", "https:///nohost"],
)
def test_callback_url_validation(client, url):
    assert_error(submit(client, {"image": b64(jpeg()), "callback_url": url}), 400, "INVALID_PAYLOAD_CALLBACK_URL")


def test_portrait_card_photo_is_accepted(client):
    assert submit(client, {"image": b64(jpeg(640, 1000))}).status_code == 200


def test_quality_validation_dependency(client):
    body = {"image": b64(jpeg()), "validate_quality": True, "is_quality": False}
    assert_error(submit(client, body), 400, "INVALID_PAYLOAD_QUALITY_VALIDATION_DEPENDENCY")


def test_unknown_route_and_method_use_the_error_shape(client):
    assert_error(client.get("/nope", headers=AUTH), 404, "NOT_FOUND")
    assert_error(client.delete(SUBMIT, headers=AUTH), 405, "METHOD_NOT_ALLOWED")


def test_health_answers_without_credentials_and_only_to_get(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert_error(client.post("/health", headers=AUTH), 405, "METHOD_NOT_ALLOWED")


def test_result_without_or_with_unknown_reference(client):
    assert_error(client.get(RESULT, headers=AUTH), 404, "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND")
    assert_error(result(client, "never-submitted-id"), 404, "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND")
    assert_error(result(client, "x"), 400, "INVALID_PAYLOAD_REFERENCE_ID")


# --- bad images -----------------------------------------------------------------------------


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares huge dimensions (decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG with its SOF0 frame header patched to claim other dimensions."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    "image, code",
    [
        (jpeg()[: len(jpeg()) // 2], "INVALID_PAYLOAD_IMAGE_FORMAT"),  # truncated JPEG
        (png()[:-40], "INVALID_PAYLOAD_IMAGE_FORMAT"),  # truncated PNG
        (b"GIF89a" + jpeg(), "INVALID_PAYLOAD_IMAGE_FORMAT"),  # wrong magic bytes
        (b"\xff\xd8\xff" + b"\x00" * 5000, "INVALID_PAYLOAD_IMAGE_FORMAT"),  # magic only
        (b"%PDF-1.7 not an image", "INVALID_PAYLOAD_IMAGE_FORMAT"),
        (_png_declaring(100_000, 100_000), "INVALID_PAYLOAD_IMAGE_SIZE"),  # decompression bomb
        (_jpeg_declaring(60_000, 60_000), "INVALID_PAYLOAD_IMAGE_SIZE"),  # huge dimensions
        (jpeg(600, 400), "INVALID_PAYLOAD_IMAGE_SIZE"),  # under 720x480
        (jpeg(1000, 479), "INVALID_PAYLOAD_IMAGE_SIZE"),
        (b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024), "INVALID_PAYLOAD_IMAGE_SIZE"),  # over 5 MB
    ],
    ids=["trunc-jpeg", "trunc-png", "gif-magic", "magic-only", "pdf", "png-bomb", "huge-jpeg", "small", "narrow", "over-5mb"],
)
def test_bad_images_get_the_right_400_and_service_stays_up(client, service, image, code):
    assert_error(submit(client, {"image": b64(image)}), 400, code)
    assert service.is_up()


def test_body_far_over_the_limit_is_refused_without_reading_it_all(client):
    huge = b"A" * (9 * 1024 * 1024)
    response = client.post(SUBMIT, content=b'{"image": "' + huge + b'"}', headers={**AUTH, "Content-Type": "application/json"})
    assert_error(response, 400, "INVALID_PAYLOAD_IMAGE_SIZE")


# --- accepted jobs ----------------------------------------------------------------------------


def test_accepts_base64_data_url_and_png_and_generates_uuid(client):
    for image in (b64(jpeg()), "data:image/jpeg;base64," + b64(jpeg()), b64(png()),
                  base64.urlsafe_b64encode(jpeg()).decode().rstrip("=")):
        response = submit(client, {"image": image})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "accepted"
        reference_id = body["data"]["reference_id"]
        assert len(reference_id) == 36
        assert reference_id.count("-") == 4
        assert wait_result(client, reference_id)["message"] == "success"


def test_duplicate_reference_id_is_per_app(client):
    assert submit(client, {"image": b64(jpeg()), "reference_id": "dup-ref-001"}).status_code == 200
    assert_error(submit(client, {"image": b64(jpeg()), "reference_id": "dup-ref-001"}), 400, "INVALID_PAYLOAD_REFERENCE_ID_EXISTS")
    # Another application may use the same id, and cannot read the first one's result.
    assert submit(client, {"image": b64(jpeg()), "reference_id": "dup-ref-001"}, AUTH2).status_code == 200
    first, second = wait_result(client, "dup-ref-001"), wait_result(client, "dup-ref-001", AUTH2)
    assert first["data"]["reference_id"] == second["data"]["reference_id"] == "dup-ref-001"
    submit(client, {"image": b64(jpeg()), "reference_id": "only-app-one"})
    assert_error(result(client, "only-app-one", AUTH2), 404, "INVALID_PAYLOAD_REFERENCE_ID_NOT_FOUND")


def test_processing_answer_then_round_trip_with_authenticated_callback(client, service, listener, gate):
    gate.touch()
    try:
        response = submit(client, {"image": b64(jpeg()), "reference_id": "round-trip-01", "callback_url": listener.url + "/cb/rt"})
        assert response.status_code == 200
        pending = result(client, "round-trip-01")
        assert pending.status_code == 200
        body = pending.json()
        assert body["message"] == "processing"
        assert "error_code" not in body
        assert set(body["data"]) == {"reference_id"}
        assert body["ktp_extractor"]["state"] in ("queued", "processing")
    finally:
        gate.unlink()
    final = wait_result(client, "round-trip-01")
    assert final["message"] == "success"
    assert final["status_code"] == "BILLED"
    assert "error_code" not in final
    data = final["data"]
    assert set(CONTRACT_FIELDS) <= set(data)
    assert data["nik"] == "3275014101900007"
    assert data["state"] == "JAWA BARAT"
    assert data["image_quality"] == {"blur": False, "dark": False, "flashlight": False, "grayscale": False}
    # Extras live in one object, never among the contract fields.
    extra = final["ktp_extractor"]
    assert extra["valid_until"] == "SEUMUR HIDUP"
    assert extra["issue_city"] == "KOTA BEKASI"
    assert "valid_until" not in data
    assert extra["confidence"]["nik"] == 0.9
    assert set(extra["timings"]) >= {"queued_seconds", "processing_seconds", "total_seconds"}

    (callback,) = wait_until(lambda: listener.for_path("/cb/rt"), what="callback")
    assert callback.headers["Authorization"] == expected_basic_auth()
    assert callback.headers["Content-Type"] == "application/json"
    assert callback.json() == final
    # The image was deleted once processed.
    assert service.stored_images() == []


def test_app_without_callback_credentials_sends_no_authorization(client, listener):
    submit(client, {"image": b64(jpeg()), "reference_id": "no-cred-cb-1", "callback_url": listener.url + "/cb/nocred"}, AUTH2)
    (callback,) = wait_until(lambda: listener.for_path("/cb/nocred"), what="callback")
    assert "Authorization" not in callback.headers


@pytest.mark.parametrize(
    "width, validate, error_code, message",
    [(1002, True, "FAIL_ON_1", "Image quality validation failed"), (1001, False, "KTP_NOT_DETECTED", "KTP not detected"),
     (1003, False, "INTERNAL_SERVER_ERROR", "Internal server error"), (1005, False, "KTP_NOT_DETECTED", "KTP not detected")],
)
def test_failed_jobs_answer_200_with_error_code(client, width, validate, error_code, message):
    reference_id = f"fail-{width}-{int(validate)}"
    submit(client, {"image": b64(jpeg(width=width)), "reference_id": reference_id, "validate_quality": validate})
    body = wait_result(client, reference_id)
    assert body["error_code"] == error_code
    assert body["message"] == message
    assert body["status_code"] == "NOT_BILLED"
    assert "nik" not in body["data"]
    # Nothing read from the card is returned with a failure, not even among the extras.
    assert "3275014101900007" not in json.dumps(body)
    assert "raw_text" not in body["ktp_extractor"]
    if error_code == "FAIL_ON_1":
        assert body["data"]["image_quality"]["blur"] is True
        assert body["ktp_extractor"]["quality"]["scores"]["blur"] == 0.9


def test_quality_flag_without_validation_still_succeeds(client):
    submit(client, {"image": b64(jpeg(width=1002)), "reference_id": "blur-novalidate"})
    body = wait_result(client, "blur-novalidate")
    assert "error_code" not in body
    assert body["data"]["image_quality"]["blur"] is True
    assert body["ktp_extractor"]["quality"]["scores"]["blur"] == 0.9


def test_callback_retries_with_backoff_and_records_attempts(client, service, listener):
    listener.statuses.extend([500, 503])
    submit(client, {"image": b64(jpeg()), "reference_id": "retry-cb-01", "callback_url": listener.url + "/cb/retry"})
    wait_until(lambda: len(listener.for_path("/cb/retry")) == 3, what="three callback attempts")
    bodies = {r.body for r in listener.for_path("/cb/retry")}
    assert len(bodies) == 1

    rows = wait_until(
        lambda: (r := service.callback_attempts("retry-cb-01")) and r[-1][3] == "delivered" and r,
        what="delivery recorded",
    )
    assert [(r[0], r[1]) for r in rows] == [(1, 500), (2, 503), (3, 200)]
    assert rows[0][2] == "HTTP 500"
    assert rows[2][2] is None


def test_callback_gives_up_after_max_attempts(client, listener):
    listener.statuses.extend([500] * 4)
    submit(client, {"image": b64(jpeg()), "reference_id": "giveup-cb-1", "callback_url": listener.url + "/cb/giveup"})
    wait_until(lambda: len(listener.for_path("/cb/giveup")) == 4, what="four attempts")
    # Still fetchable by GET after the callback was abandoned.
    assert wait_result(client, "giveup-cb-1")["message"] == "success"


# --- image URLs -------------------------------------------------------------------------------


def test_image_url_fetch(client, listener):
    listener.files["/img/card.jpg"] = (200, {"Content-Type": "image/jpeg"}, jpeg())
    listener.files["/img/redirect"] = (302, {"Location": "/img/card.jpg"}, b"")
    listener.files["/img/loop"] = (302, {"Location": "/img/loop"}, b"")
    listener.files["/img/big"] = (200, {}, b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 10))
    for path in ("/img/card.jpg", "/img/redirect"):
        response = submit(client, {"image": listener.url + path})
        assert response.status_code == 200, response.text
        assert wait_result(client, response.json()["data"]["reference_id"])["message"] == "success"
    assert_error(submit(client, {"image": listener.url + "/img/missing"}), 400, "INVALID_PAYLOAD_IMAGE_FORMAT")
    assert_error(submit(client, {"image": listener.url + "/img/loop"}), 400, "INVALID_PAYLOAD_IMAGE_FORMAT")
    assert_error(submit(client, {"image": listener.url + "/img/big"}), 400, "INVALID_PAYLOAD_IMAGE_SIZE")
    # Private addresses are refused even in --local mode (only loopback is allowed).
    assert_error(submit(client, {"image": "https://10.1.2.3/a.jpg"}), 400, "INVALID_PAYLOAD_IMAGE_FORMAT")


def test_logs_are_json_and_carry_no_personal_data(service):
    lines = [line for line in service.logs().splitlines() if line.strip()]
    assert lines
    events = [json.loads(line) for line in lines]
    assert {"job_accepted", "job_finished", "callback_attempt", "request"} <= {e["event"] for e in events}
    text = service.logs()
    for secret in ("3275014101900007", "SITI AMINAH", "MAWAR", API_KEY, "cb:pass", b64(jpeg())[:40]):
        assert secret not in text


def test_concurrent_submissions_all_complete(service):
    """A bounded burst: 40 submissions from 8 threads, then every job finishes exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    image = b64(jpeg())

    def one(n: int) -> int:
        with service.client() as http:
            return submit(http, {"image": image, "reference_id": f"burst-{n:04d}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(40)))
    assert statuses == [200] * 40
    with service.client() as http:
        for n in range(40):
            assert wait_result(http, f"burst-{n:04d}")["message"] == "success"
