"""Backend registry and configuration (no model is loaded here)."""

from __future__ import annotations

import pytest

from extractor.engine import backends


def test_threads_from_environment(monkeypatch):
    monkeypatch.delenv(backends.THREADS_ENV, raising=False)
    assert backends.configured_threads() is None
    monkeypatch.setenv(backends.THREADS_ENV, "1")
    assert backends.configured_threads() == 1
    monkeypatch.setenv(backends.THREADS_ENV, "0")
    with pytest.raises(ValueError):
        backends.configured_threads()


def test_registry_and_default(monkeypatch):
    monkeypatch.delenv(backends.BACKEND_ENV, raising=False)
    assert set(backends.BACKENDS) >= {"faster-paddle-tiny", "faster-paddle-small", "faster-paddle-tiny+small"}
    default = backends.create_backend(threads=1)
    assert default.name == backends.DEFAULT_BACKEND == "faster-paddle-tiny+small"
    assert default.primary.name == "faster-paddle-tiny"
    assert default.fallback.name == "faster-paddle-small"
    assert default.primary.threads == 1
    monkeypatch.setenv(backends.BACKEND_ENV, "faster-paddle-small")
    assert backends.create_backend().name == "faster-paddle-small"


def test_unknown_backend_and_downloading_model_are_refused():
    with pytest.raises(ValueError, match="unknown OCR backend"):
        backends.create_backend("tesseract")
    with pytest.raises(ValueError, match="no downloads"):
        backends.FasterPaddleBackend("medium")


def test_text_box_geometry():
    box = backends.TextBox("NIK", 0.9, 10, 20, 50, 40)
    assert (box.cx, box.cy, box.width, box.height) == (30, 30, 40, 20)
    moved = box.with_text("N I K", x1=60)
    assert moved.text == "N I K"
    assert moved.x1 == 60
    assert moved.x0 == 10
