"""A second OCR engine for benchmarks: RapidOCR 3.10 on ONNX Runtime, with the models in its wheel.

RapidOCR's default configuration is PP-OCRv6 *small* detection and recognition plus the
PP-OCR mobile v2.0 text-direction classifier; the wheel ships exactly those three ONNX files
(the recogniser carries its character list in its ONNX metadata). RapidOCR would download a model
whose file is missing or whose SHA-256 differs from its table, so this backend passes the bundled
files as explicit ``model_path``s: RapidOCR then never reaches its download code, and a missing
file is an error here instead of a download.

Only the thread count (ONNX Runtime intra-op threads) and the log level differ from the default
configuration. Optional: ``backends.BACKENDS`` lists ``rapidocr`` only when the package is
installed (see docs/extractor-engine.md).
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from extractor.engine.backends import TextBox

# What RapidOCR 3.10.0's default config.yaml resolves to, all inside the wheel's ``models/``.
BUNDLED_MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}


def models_dir() -> Path:
    """The ``models/`` folder inside the installed rapidocr package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("rapidocr is not installed")
    return Path(spec.origin).parent / "models"


def bundled_model_paths() -> dict[str, Path]:
    """The bundled model file per RapidOCR stage; refuses (no download) when one is missing."""
    root = models_dir()
    paths = {stage: root / name for stage, name in BUNDLED_MODELS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"rapidocr's bundled model(s) missing, refusing to download: {missing}")
    return paths


class RapidOcrBackend:
    """RapidOCR (PP-OCRv6 small det + rec, mobile direction classifier) on ONNX Runtime."""

    name = "rapidocr"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._engine = None
        self._lock = threading.Lock()

    def _params(self) -> dict:
        params: dict = {"Global.log_level": "error"}  # an empty detection is a warning otherwise
        for stage, path in bundled_model_paths().items():
            params[f"{stage}.model_path"] = str(path)
        if self.threads is not None:
            # RapidOCR applies it when 1 <= threads <= os.cpu_count(); -1 (default) = ORT decides.
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(self.threads)
        return params

    def load(self) -> None:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from rapidocr import RapidOCR

                    engine = RapidOCR(params=self._params())
                    # RapidOCR creates its three ONNX sessions on first use; create them now so
                    # load() is the model load and the first read is not slower than the rest.
                    for loader in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
                        getattr(engine, loader, lambda: None)()
                    self._engine = engine

    def read(self, image: bytes) -> list[TextBox]:
        self.load()
        decoded = cv2.imdecode(np.frombuffer(image, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("not a decodable image")
        return _boxes(self._engine(decoded))

    def read_many(self, images: list[bytes]) -> list[list[TextBox]]:
        return [self.read(image) for image in images]


def _boxes(result) -> list[TextBox]:
    """RapidOCR's 4-point polygons (pixels of the input image) as axis-aligned text boxes."""
    polygons = getattr(result, "boxes", None)
    texts = getattr(result, "txts", None)
    scores = getattr(result, "scores", None)
    if polygons is None or texts is None or scores is None:
        return []  # nothing detected (RapidOCR returns an empty output object)
    boxes = []
    for polygon, text, score in zip(np.asarray(polygons, dtype=np.float64).reshape(-1, 4, 2), texts, scores):
        text = text.strip()
        if text:
            x0, y0 = polygon.min(axis=0)
            x1, y1 = polygon.max(axis=0)
            boxes.append(TextBox(text, float(score), float(x0), float(y0), float(x1), float(y1)))
    return boxes
