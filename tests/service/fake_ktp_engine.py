"""A stand-in OCR engine for the service's contract tests (never used outside tests).

The service loads it by module name (``KTP_SERVE_ENGINE=fake_ktp_engine``) in its spawned worker
processes. The scenario is chosen by the submitted image's width, so a test picks the outcome by
the image it sends:

    1000 (or anything else)   a detected card with SAMPLE fields, good quality
    1001                      no card detected
    1002                      blur detected
    1003                      the engine raises (job fails with INTERNAL_SERVER_ERROR)
    1004                      the worker process dies (as on a segfault or the OOM killer)
    1005                      a card is detected but no field could be read

If the file named by FAKE_ENGINE_GATE exists, ``extract`` waits until it is removed, so a test
can hold a job in 'processing' (e.g. to kill the service mid-job) without any sleeps.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from PIL import Image

from extractor.result import FieldReading, ImageQuality, KtpExtraction

SAMPLE = {
    "nik": "3275014101900007",
    "full_name": "SITI AMINAH TESTDATA",
    "place_of_birth": "BEKASI",
    "date_of_birth": "01-01-1990",
    "gender": "PEREMPUAN",
    "blood_type": "A",
    "address": "JL. MAWAR NO. 7",
    "rt_rw": "003/004",
    "administrative_village": "MARGAHAYU",
    "district": "BEKASI TIMUR",
    "city": "KOTA BEKASI",
    "state": "JAWA BARAT",
    "religion": "ISLAM",
    "marital_status": "KAWIN",
    "occupation": "KARYAWAN SWASTA",
    "nationality": "WNI",
    "valid_until": "SEUMUR HIDUP",
    "issue_city": "KOTA BEKASI",
    "issue_date": "12-03-2018",
}


def warm_up() -> None:
    return None


def _wait_for_gate() -> None:
    gate = os.environ.get("FAKE_ENGINE_GATE")
    if not gate:
        return
    deadline = time.monotonic() + 120  # never hang a test run forever
    while Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def extract(image: bytes) -> KtpExtraction:
    _wait_for_gate()
    width = Image.open(io.BytesIO(image)).size[0]
    if width == 1001:
        return KtpExtraction(ktp_detected=False, engine="fake")
    if width == 1004:
        os._exit(70)
    if width == 1005:
        return KtpExtraction(ktp_detected=True, fields={"nik": FieldReading(value="", raw="")}, engine="fake")
    if width == 1003:
        raise RuntimeError("simulated engine fault " + SAMPLE["nik"])  # message must never be logged
    quality = ImageQuality(blur=width == 1002, scores={"blur": 0.9 if width == 1002 else 0.1}, thresholds={"blur": 0.5})
    return KtpExtraction(
        ktp_detected=True,
        fields={name: FieldReading(value=value, raw=value.lower(), confidence=0.9) for name, value in SAMPLE.items()},
        image_quality=quality,
        engine="fake",
        seconds=0.01,
    )
