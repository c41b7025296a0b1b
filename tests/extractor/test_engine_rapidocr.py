"""The optional RapidOCR backend: reads a rendered line offline with the models inside its wheel."""

from __future__ import annotations

import hashlib
import socket

import pytest

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from extractor.engine import backends  # noqa: E402
from extractor.engine.rapidocr_backend import BUNDLED_MODELS, RapidOcrBackend, bundled_model_paths  # noqa: E402

TEXT = "NIK : 3273015708900002"
ORIGIN = (60, 150)  # where the text is drawn


@pytest.fixture()
def no_network(monkeypatch):
    """Any attempt to open a connection (a model download) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("rapidocr tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def rendered_line() -> tuple[bytes, tuple[int, int, int, int]]:
    """A white 640 x 400 image with one line of Arimo 40 px; returns PNG bytes and the ink's bounds."""
    from extractor.synth.fonts import load

    image = Image.new("L", (640, 400), 255)
    ImageDraw.Draw(image).text(ORIGIN, TEXT, font=load("sans", 40), fill=0)
    grey = np.asarray(image)
    rows, cols = np.nonzero(grey < 128)
    ok, png = cv2.imencode(".png", grey)
    assert ok
    return png.tobytes(), (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))


def test_reads_a_rendered_line_offline(no_network):
    png, (ix0, iy0, ix1, iy1) = rendered_line()
    backend = RapidOcrBackend(threads=1)
    boxes = backend.read(png)
    assert len(boxes) == 1
    box = boxes[0]
    assert box.text.replace(" ", "") == TEXT.replace(" ", "")
    assert 0.5 <= box.confidence <= 1.0
    # The box is in the input's pixel space and hugs the ink (a few pixels of margin at most).
    assert box.x0 <= ix0 + 2
    assert box.y0 <= iy0 + 2
    assert box.x1 >= ix1 - 2
    assert box.y1 >= iy1 - 2
    assert box.x0 >= ix0 - 30
    assert box.y0 >= iy0 - 20
    assert box.x1 <= ix1 + 30
    assert box.y1 <= iy1 + 20
    # The thread budget reaches ONNX Runtime.
    session = backend._engine.text_rec.session.session
    assert session.get_session_options().intra_op_num_threads == 1
    assert backend.read_many([]) == []


def test_registered_and_created_by_name(no_network):
    assert "rapidocr" in backends.BACKENDS
    assert backends.DEFAULT_BACKEND == "faster-paddle-tiny+small"
    backend = backends.create_backend("rapidocr", threads=2)
    assert isinstance(backend, RapidOcrBackend)
    assert backend.name == "rapidocr"
    assert backend.threads == 2
    assert backend._engine is None  # nothing loads until first use


def test_bundled_models_are_the_default_config_and_intact():
    """The default config's models are the files in the wheel, with the checksums rapidocr expects
    (a missing or different file is what would make rapidocr download one)."""
    from rapidocr.inference_engine.base import FileInfo, InferSession
    from rapidocr.main import DEFAULT_CFG_PATH
    from rapidocr.utils.parse_parameters import ParseParams

    cfg = ParseParams.load(DEFAULT_CFG_PATH)
    paths = bundled_model_paths()
    assert set(paths) == set(BUNDLED_MODELS) == {"Det", "Cls", "Rec"}
    for stage, path in paths.items():
        section = cfg[stage]
        assert section.engine_type.value == "onnxruntime"
        assert section.model_path is None
        info = InferSession.get_model_url(
            FileInfo(section.engine_type, section.ocr_version, section.task_type, section.lang_type, section.model_type)
        )
        assert info["model_dir"].rsplit("/", 1)[-1] == path.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info["SHA256"]
