"""The OCR worker's code path runs with only the worker's requirements, no network and no writable home.

The serverless OCR worker ships the engine without pillow, fastapi or httpx
(serverless_extractor/functions/ocr_worker/requirements.txt), on a read-only code folder, with nothing
downloaded at run time. A fresh interpreter blocks those imports and every socket, points HOME and
the cache folders at an empty directory, then loads the bundled models and reads a card.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.synth.cards import generate_card

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Installed for development, absent from the worker's package.
NOT_IN_WORKER = ("PIL", "fastapi", "starlette", "uvicorn", "httpx", "httpcore", "moto", "fontpkg",
                 "rapidocr", "onnxruntime", "aws_lambda_powertools", "aws_xray_sdk", "extractor.synth")

CHILD = """
import json, socket, sys
for name in {blocked!r}:
    sys.modules[name] = None  # `import name` raises ImportError, as in the worker's package

def refuse(*args, **kwargs):
    raise OSError("network use at run time")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import importlib.util
if importlib.util.find_spec("extractor.serverless") is not None:
    import extractor.serverless.config, extractor.serverless.worker  # the handler's imports (boto3: the runtime's)
from extractor.engine import pipeline
pipeline.warm_up()
with open(sys.argv[1], "rb") as handle:
    extraction = pipeline.extract(handle.read())
print(json.dumps({{"nik": extraction.value("nik"), "detected": extraction.ktp_detected,
                  "modules": sorted(m for m, module in sys.modules.items() if module is not None
                                    and any(m == b or m.startswith(b + ".") for b in {blocked!r}))}}))
"""


@pytest.mark.timeout(300)
def test_the_worker_code_path_reads_a_card_offline_with_only_its_requirements(tmp_path):
    jpeg, truth = generate_card(7, "clean")
    card = tmp_path / "card.jpg"
    card.write_bytes(jpeg)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "PYTHONPATH": str(REPO),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("KTP_OCR_ENGINE", None)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD.format(blocked=NOT_IN_WORKER), str(card)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer["detected"]
    assert answer["nik"] == truth["fields"]["nik"]
    assert answer["modules"] == []
    # Nothing was cached or downloaded into the (only writable) home.
    assert not any(home.rglob("*"))
