"""Fonts for the synthetic cards, all installed from PyPI (see requirements-dev.txt; every one OFL-1.1).

- Arimo (``fontpkg-arimo``): metric-compatible with Arial, the face KTP reproductions use. The
  default card prints every label and value in it.
- Roboto Mono (``fontpkg-roboto-mono``): the default card's NIK face; real cards print the NIK in a
  larger OCR-A-like mono type. No OCR-A font is published on PyPI, so the cross-style cards use
  other monospaced faces (Space Mono is the closest in spirit) and a bold sans NIK.
- Cross-style faces (extractor/synth/styles.py): Roboto Condensed and PT Sans Narrow (condensed),
  Noto Sans, Lato, IBM Plex Sans, Source Sans 3; monospaced JetBrains Mono, Space Mono, IBM Plex Mono.

Variable fonts take the weight from their ``wght`` axis; static families pick the nearest weight file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

SANS = "sans"
MONO = "mono"

# face -> (module, file) for a variable font, or (module, {weight: file}) for a static family.
_PACKAGES: dict[str, tuple[str, str | dict[int, str]]] = {
    SANS: ("fontpkg_arimo", "Arimo[wght].ttf"),
    MONO: ("fontpkg_roboto_mono", "RobotoMono[wght].ttf"),
    "roboto-condensed": ("fontpkg_roboto_condensed", "RobotoCondensed[wght].ttf"),
    "noto-sans": ("fontpkg_noto_sans", "NotoSans[wdth,wght].ttf"),
    "lato": ("fontpkg_lato", {400: "Lato-Regular.ttf", 500: "Lato-Medium.ttf", 600: "Lato-SemiBold.ttf",
                              700: "Lato-Bold.ttf"}),
    "ibm-plex-sans": ("fontpkg_ibm_plex_sans", "IBMPlexSans[wdth,wght].ttf"),
    "pt-sans-narrow": ("fontpkg_pt_sans_narrow", {400: "PT_Sans-Narrow-Web-Regular.ttf",
                                                  700: "PT_Sans-Narrow-Web-Bold.ttf"}),
    "source-sans-3": ("fontpkg_source_sans_3", "SourceSans3[wght].ttf"),
    "jetbrains-mono": ("fontpkg_jetbrains_mono", "JetBrainsMono[wght].ttf"),
    "space-mono": ("fontpkg_space_mono", {400: "SpaceMono-Regular.ttf", 700: "SpaceMono-Bold.ttf"}),
    "ibm-plex-mono": ("fontpkg_ibm_plex_mono", {400: "IBMPlexMono-Regular.ttf", 500: "IBMPlexMono-Medium.ttf",
                                                600: "IBMPlexMono-SemiBold.ttf", 700: "IBMPlexMono-Bold.ttf"}),
}
FACES: tuple[str, ...] = tuple(_PACKAGES)


class FontMissingError(RuntimeError):
    """A font package is not installed."""


def _files_dir(module_name: str) -> Path:
    try:
        module = __import__(module_name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FontMissingError(
            f"font package {module_name.replace('_', '-')} is missing: pip install -r requirements-dev.txt"
        ) from exc
    return Path(module.__file__).resolve().parent / "files"


def font_path(face: str, weight: int = 400) -> Path:
    module_name, files = _PACKAGES[face]
    if isinstance(files, dict):
        files = files[min(files, key=lambda w: (abs(w - weight), w))]
    return _files_dir(module_name) / files


@lru_cache(maxsize=512)
def load(face: str, size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    """A font of ``size`` pixels at ``weight`` (400 regular .. 700 bold)."""
    font = ImageFont.truetype(str(font_path(face, weight)), size=max(6, int(size)))
    if not isinstance(_PACKAGES[face][1], dict):
        # Every other axis (width on Noto Sans / IBM Plex Sans) stays at its default.
        axes = font.get_variation_axes()
        values = [weight if bytes(axis.get("name", b"")).lower() == b"weight" else axis["default"] for axis in axes]
        font.set_variation_by_axes(values if len(axes) > 1 else [weight])
    return font
