"""Fonts for the synthetic cards, all installed from PyPI (see requirements-dev.txt).

- Arimo (OFL-1.1, ``fontpkg-arimo``): metric-compatible with Arial, the face KTP reproductions use.
- Roboto Mono (OFL-1.1, ``fontpkg-roboto-mono``): a monospaced face for the NIK, which real cards
  print in a larger OCR-A-like mono type.

Both ship as variable fonts; the weight axis gives regular and bold from one file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

SANS = "sans"
MONO = "mono"
_PACKAGES = {SANS: ("fontpkg_arimo", "Arimo[wght].ttf"), MONO: ("fontpkg_roboto_mono", "RobotoMono[wght].ttf")}


class FontMissingError(RuntimeError):
    """A font package is not installed."""


def font_path(face: str) -> Path:
    module_name, file_name = _PACKAGES[face]
    try:
        module = __import__(module_name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FontMissingError(
            f"font package {module_name.replace('_', '-')} is missing: pip install -r requirements-dev.txt"
        ) from exc
    return Path(module.__file__).resolve().parent / "files" / file_name


@lru_cache(maxsize=256)
def load(face: str, size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    """A font of ``size`` pixels at ``weight`` (400 regular .. 700 bold)."""
    font = ImageFont.truetype(str(font_path(face)), size=max(6, int(size)))
    font.set_variation_by_axes([weight])
    return font
