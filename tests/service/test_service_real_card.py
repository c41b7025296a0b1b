"""The full async round trip with the real OCR engine and a generated card (one card: real OCR
is the expensive part of the suite)."""

from __future__ import annotations

import pytest
from service_harness import AUTH, b64, expected_basic_auth, wait_until

from extractor.result import CONTRACT_FIELDS

pytestmark = pytest.mark.slow


def test_real_card_round_trip_with_callback(make_service, listener):
    synth = pytest.importorskip("extractor.synth")
    jpeg_bytes, truth = synth.generate_card(20261127, "clean")
    service = make_service("--local", engine="extractor.engine", workers=1)
    with service.client() as client:
        accepted = client.post(
            "/ktp/id/extract-async", headers=AUTH,
            json={"image": b64(jpeg_bytes), "validate_quality": True, "reference_id": "real-card-0001",
                  "callback_url": listener.url + "/cb/real"},
        )
        assert accepted.status_code == 200, accepted.text
        (callback,) = wait_until(lambda: listener.for_path("/cb/real"), timeout=120, interval=0.2, what="callback")
        body = client.get("/ktp/id/extract-async/result", params={"reference_id": "real-card-0001"}, headers=AUTH).json()
    assert callback.headers["Authorization"] == expected_basic_auth()
    assert callback.json() == body
    assert "error_code" not in body, body.get("error_code")
    assert body["message"] == "success"
    assert set(CONTRACT_FIELDS) <= set(body["data"])
    assert body["data"]["nik"] == truth["fields"]["nik"]
    assert body["data"]["image_quality"] == truth["quality"]
    extra = body["ktp_extractor"]
    assert extra["ktp_detected"] is True
    assert extra["engine"]
    assert 0.0 <= extra["confidence"]["nik"] <= 1.0
    assert not any((service.data_dir / "images").iterdir())
    # Nothing read from the card reaches the logs.
    logs = service.logs()
    for name in ("nik", "full_name", "address"):
        assert truth["fields"][name] not in logs
