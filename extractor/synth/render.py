"""Draw the front side of a WNI KTP as a flat, clean RGB image.

Layout (docs/provider-contract.md): centred two-line header, label : value rows with the NIK in a larger mono
face, photo on the right with the issuing city and date and a signature under it, blue background
with a faint guilloche pattern. Coordinates are on a 1000-unit-wide grid scaled to the output width.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from extractor.synth import fonts
from extractor.synth.grids import interleaved, per_channel, pixel_grid
from extractor.synth.holder import Holder

if TYPE_CHECKING:
    from extractor.synth.styles import CardStyle

CARD_ASPECT = 85.60 / 53.98  # ID-1
GRID_WIDTH = 1000.0

_INK = (22, 22, 28)
_LABEL_X = 30.0
# RT/RW, Kel/Desa and Kecamatan are printed indented under Alamat.
_ADDRESS_PART_LABEL_X = 52.0
_ADDRESS_PARTS = ("rt_rw", "administrative_village", "district")
_COLON_X = 214.0
_VALUE_X = 226.0
_VALUE_RIGHT = 712.0  # values stop short of the photo column
_BLOOD_LABEL_X = 470.0
_BLOOD_COLON_X = 584.0
_PHOTO_BOX = (738.0, 112.0, 948.0, 392.0)
_TEXT_SIZE = 21.5
_LINE_PITCH = 31.0

# Label, field, whether the value may wrap to a second line.
_ROWS: tuple[tuple[str, str | None, bool], ...] = (
    ("Nama", "full_name", True),
    ("Tempat/Tgl Lahir", "birth", False),
    ("Jenis Kelamin", "gender", False),
    ("Alamat", "address", True),
    ("RT/RW", "rt_rw", False),
    ("Kel/Desa", "administrative_village", False),
    ("Kecamatan", "district", False),
    ("Agama", "religion", False),
    ("Status Perkawinan", "marital_status", False),
    ("Pekerjaan", "occupation", False),
    ("Kewarganegaraan", "nationality", False),
    ("Berlaku Hingga", "valid_until", False),
)


class _Canvas:
    """A PIL drawing surface addressed in grid units."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.scale = image.width / GRID_WIDTH
        # Card printers place the text block slightly differently on each blank, in slightly different ink.
        self.offset = (0.0, 0.0)
        self.ink = _INK

    def font(self, face: str, size: float, weight: int = 400) -> ImageFont.FreeTypeFont:
        return fonts.load(face, round(size * self.scale), weight)

    def width(self, text: str, font: ImageFont.FreeTypeFont) -> float:
        return self.draw.textlength(text, font=font) / self.scale

    def text(self, x: float, y: float, text: str, font: ImageFont.FreeTypeFont) -> None:
        x, y = x + self.offset[0], y + self.offset[1]
        self.draw.text((x * self.scale, y * self.scale), text, font=font, fill=self.ink)


def _background(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """Pale blue with a diagonal gradient, fine wavy guilloche lines and a faint rosette."""
    yy, xx = pixel_grid(height, width)  # a column and a row: the guilloche's inner sine is per column
    u, v = xx / width, yy / height
    top = np.array([150, 200, 236], np.float32) + rng.uniform(-8, 8, 3)
    bottom = np.array([188, 222, 243], np.float32) + rng.uniform(-6, 6, 3)
    t = np.clip(0.55 * u + 0.45 * v, 0, 1)
    rest = 1 - t
    rgb = per_channel(lambda c: top[c] * rest + bottom[c] * t)

    phase = rng.uniform(0, 2 * math.pi)
    waves = np.sin(2 * math.pi * (v * 34 + 0.9 * np.sin(2 * math.pi * u * 3 + phase)))
    lines = np.clip((waves - 0.93) / 0.07, 0, 1)
    cx, cy = rng.uniform(0.2, 0.45), rng.uniform(0.45, 0.7)
    r = np.hypot((u - cx) * width / height, v - cy)
    angle = np.arctan2(v - cy, u - cx)
    rosette = np.clip((np.sin(r * 160 + 6 * np.sin(angle * 12)) - 0.9) / 0.1, 0, 1) * (r < 0.3)
    # Print runs differ in how strongly the security pattern shows.
    shade = rng.uniform(0.05, 0.11) * lines + rng.uniform(0.04, 0.09) * rosette
    ink = np.array([60, 110, 170], np.float32)
    unshaded = 1 - shade
    rgb = per_channel(lambda c: rgb[c] * unshaded + ink[c] * shade)
    return Image.fromarray(interleaved(np.clip(rgb, 0, 255).astype(np.uint8)), "RGB")


def _fit(canvas: _Canvas, text: str, size: float, limit: float, weight: int = 400, face: str = fonts.SANS):
    """The font that fits ``text`` into ``limit`` grid units, shrinking from ``size`` if needed."""
    font = canvas.font(face, size, weight)
    while canvas.width(text, font) > limit and size > 10:
        size -= 0.5
        font = canvas.font(face, size, weight)
    return font


def _wrap(canvas: _Canvas, text: str, font: ImageFont.FreeTypeFont, limit: float) -> list[str]:
    """Greedy word wrap into at most two lines (the card never prints three)."""
    words = text.split()
    first: list[str] = []
    while words and canvas.width(" ".join(first + words[:1]), font) <= limit:
        first.append(words.pop(0))
    if not first:  # a single word wider than the column: it is shrunk instead
        return [text]
    return [" ".join(first)] + ([" ".join(words)] if words else [])


def _photo(canvas: _Canvas, holder: Holder, rng: np.random.Generator) -> None:
    """Red background for odd birth years, blue for even; a plain silhouette, never a face."""
    s = canvas.scale
    x0, y0, x1, y1 = (round(c * s) for c in _PHOTO_BOX)
    w, h = x1 - x0, y1 - y0
    red = holder.birth_date.year % 2 == 1
    photo = Image.new("RGB", (w, h), (196, 38, 44) if red else (38, 96, 190))
    draw = ImageDraw.Draw(photo)
    cx = w * rng.uniform(0.46, 0.54)
    tone = tuple(int(c) for c in rng.integers(40, 80, 3))
    draw.ellipse((cx - w * 0.48, h * 0.7, cx + w * 0.48, h * 1.3), fill=tone)  # shoulders
    draw.rectangle((cx - w * 0.08, h * 0.5, cx + w * 0.08, h * 0.75), fill=tone)  # neck
    draw.ellipse((cx - w * 0.2, h * 0.14, cx + w * 0.2, h * 0.58), fill=tone)  # head
    canvas.image.paste(photo, (x0, y0))


def _signature(canvas: _Canvas, rng: np.random.Generator, cx: float, top: float) -> None:
    s = canvas.scale
    # A smooth random scribble: a sum of two sines along a left-to-right sweep.
    span = rng.uniform(90, 150)
    a1, a2 = rng.uniform(6, 14), rng.uniform(3, 9)
    f1, f2, p1, p2 = rng.uniform(1.5, 3.5), rng.uniform(4, 8), rng.uniform(0, 6.3), rng.uniform(0, 6.3)
    points = []
    for t in np.linspace(0, 1, 60):
        x = cx - span / 2 + span * t
        y = top + 18 + a1 * math.sin(2 * math.pi * f1 * t + p1) + a2 * math.sin(2 * math.pi * f2 * t + p2)
        points.append((x * s, y * s))
    canvas.draw.line(points, fill=(30, 30, 60), width=max(1, round(1.6 * s)), joint="curve")


def _columns(style: "CardStyle | None", canvas: _Canvas, label_x: float, label: str,
             font: ImageFont.FreeTypeFont) -> tuple[float, float]:
    """Where the colon and the value start on a row: the default card's fixed columns, or a style's."""
    if style is None:
        return _COLON_X, _VALUE_X
    # A wider face's longest label ("Status Perkawinan") pushes the colon column right.
    shift = max(0.0, _LABEL_X + canvas.width("Status Perkawinan", font) + 8 - _COLON_X)
    if style.spacing == "column":
        return _COLON_X + shift, _VALUE_X + shift
    if style.spacing == "tight":  # the value hugs the colon
        return _COLON_X + shift, _COLON_X + shift + 5
    if style.spacing == "wide":  # a wide gap after the colon
        return _COLON_X + shift, _VALUE_X + shift + 22
    # "attached": the colon follows each label ("Nama:"), values still start on one column.
    return label_x + canvas.width(label, font) + 1, _VALUE_X


def render_card(holder: Holder, width: int, rng: np.random.Generator,
                style: "CardStyle | None" = None) -> Image.Image:
    """The card alone, ``width`` px wide, in RGB.

    ``style`` (extractor/synth/styles.py) changes faces, background print, ink, weight and label
    spacing; without one the card is the default style, drawn with exactly the same random draws
    as before styles existed, so old seeds give the same bytes.
    """
    height = round(width / CARD_ASPECT)
    if style is None:
        canvas = _Canvas(_background(width, height, rng))
    else:
        from extractor.synth.styles import styled_background

        canvas = _Canvas(styled_background(style, width, height, rng))
    canvas.offset = (float(rng.uniform(-8, 8)), float(rng.uniform(-5, 5)))
    canvas.ink = tuple(int(v) for v in rng.integers(10, 50) + rng.integers(-6, 7, 3))
    pitch = _LINE_PITCH + float(rng.uniform(-1.0, 1.0))
    value_weight = int(rng.choice([400, 400, 450, 500]))
    sans, nik_face, nik_weight = fonts.SANS, fonts.MONO, 700
    if style is not None:
        canvas.ink = style.ink
        value_weight = style.weight
        sans = style.sans
        nik_face = style.sans if style.nik_face == "sans-bold" else style.nik_face
    f = holder.fields
    jitter = lambda: float(rng.uniform(-1.5, 1.5))  # noqa: E731 - tiny per-card layout variation

    for y, line in ((16.0, f"PROVINSI {f['state']}"), (46.0, f["city"])):
        font = _fit(canvas, line, 25.0, 920.0, weight=700, face=sans)
        canvas.text((GRID_WIDTH - canvas.width(line, font)) / 2, y + jitter(), line, font)

    label_font = canvas.font(sans, _TEXT_SIZE + rng.uniform(-0.5, 0.5))
    nik_label = canvas.font(sans, 28, weight=700)
    nik_font = _fit(canvas, f["nik"], 34.0, _VALUE_RIGHT - _VALUE_X, weight=nik_weight, face=nik_face)
    y = 88.0 + jitter()
    canvas.text(_LABEL_X, y + 2, "NIK", nik_label)
    if style is not None and style.spacing == "attached":
        nik_colon = _LABEL_X + canvas.width("NIK", nik_label) + 1
    else:
        nik_colon = _columns(style, canvas, _LABEL_X, "NIK", label_font)[0] - 6
    canvas.text(nik_colon, y + 2, ":", nik_label)
    canvas.text(_VALUE_X, y, f["nik"], nik_font)

    y = 138.0 + jitter()
    value_size = _TEXT_SIZE + rng.uniform(-0.5, 0.5)
    for label, key, wraps in _ROWS:
        value = f"{f['place_of_birth']}, {f['date_of_birth']}" if key == "birth" else f[key]
        label_x = _ADDRESS_PART_LABEL_X if key in _ADDRESS_PARTS else _LABEL_X
        canvas.text(label_x, y, label, label_font)
        colon_x, value_x = _columns(style, canvas, label_x, label, label_font)
        canvas.text(colon_x, y, ":", label_font)
        limit = (_BLOOD_LABEL_X - 12 if key == "gender" else _VALUE_RIGHT) - value_x
        font = canvas.font(sans, value_size, value_weight)
        lines = _wrap(canvas, value, font, limit) if wraps else [value]
        for line in lines:
            canvas.text(value_x, y, line, _fit(canvas, line, value_size, limit, value_weight, face=sans))
            y += pitch
        if key == "gender":
            canvas.text(_BLOOD_LABEL_X, y - pitch, "Gol. Darah", label_font)
            blood_colon, _ = _columns(style, canvas, _BLOOD_LABEL_X, "Gol. Darah", label_font)
            blood_colon = _BLOOD_COLON_X if style is None or style.spacing != "attached" else blood_colon
            canvas.text(blood_colon, y - pitch, ":", label_font)
            canvas.text(blood_colon + 12, y - pitch, f["blood_type"], label_font)

    photo_cx = (_PHOTO_BOX[0] + _PHOTO_BOX[2]) / 2
    _photo(canvas, holder, rng)
    for y, line in ((_PHOTO_BOX[3] + 12, f["issue_city"]), (_PHOTO_BOX[3] + 38, f["issue_date"])):
        font = _fit(canvas, line, 18.0, 225.0, face=sans)
        canvas.text(photo_cx - canvas.width(line, font) / 2, y, line, font)
    _signature(canvas, rng, photo_cx, _PHOTO_BOX[3] + 72)
    return canvas.image
