"""Cross-style synthetic cards: independent style axes, split once into a tuning and a held-out group.

The default card (extractor/synth/render.py without a style) is what the engine was tuned on. These
cards vary what third-party KTP images vary: the face (condensed, other sans families, a mono or
bold-sans NIK), the background print (guilloche, "KARTU TANDA PENDUDUK" wave microprint, plain),
ink colour and weight, label/colon spacing, the card's edge (rounded on a scanner bed, square, a
white margin), its width (480-2000 px), how the image was framed (screenshot of a page or an app,
letterbox, a phone photo of a screen) and how it was copied (photocopy, grayscale, a plastic
sleeve's glare).

``SPLIT`` is the one place that says which value of each axis belongs to the ``tuned`` group (what
a change to the engine may be tuned on) and which to the ``held-out`` group (only measured). A
card's style draws every axis from one group. ``SETS`` names which axes a set exercises, so each
bench row shows one kind of difference.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from extractor.synth import fonts
from extractor.synth.cards import save_cards
from extractor.synth.degrade import phone_photo
from extractor.synth.holder import random_holder

TUNED = "tuned"
HELD_OUT = "held-out"
GROUPS: tuple[str, ...] = (TUNED, HELD_OUT)

# Each axis' values, split into the two groups. Change the split here and nowhere else.
SPLIT: dict[str, dict[str, tuple]] = {
    "sans": {TUNED: ("sans", "roboto-condensed", "noto-sans", "lato"),
             HELD_OUT: ("ibm-plex-sans", "pt-sans-narrow", "source-sans-3")},
    "nik_face": {TUNED: ("mono", "jetbrains-mono", "sans-bold"), HELD_OUT: ("space-mono", "ibm-plex-mono")},
    "background": {TUNED: ("guilloche", "plain"), HELD_OUT: ("wave", "dense")},
    "ink": {TUNED: ("black", "navy"), HELD_OUT: ("grey", "blue")},
    "weight": {TUNED: (400, 700), HELD_OUT: (500, 600)},
    "spacing": {TUNED: ("column", "tight"), HELD_OUT: ("attached", "wide")},
    "edge": {TUNED: ("bed", "square"), HELD_OUT: ("white", "border")},
    # Card widths in px, as ranges; both groups span small and large cards.
    "width": {TUNED: ((480, 600), (900, 1300), (1700, 2000)), HELD_OUT: ((600, 900), (1300, 1700))},
    "frame": {TUNED: ("page_screenshot", "screen_photo"), HELD_OUT: ("app_screenshot", "letterbox")},
    "finish": {TUNED: ("photocopy", "sleeve_soft"), HELD_OUT: ("grayscale", "sleeve_band")},
}

INKS: dict[str, tuple[int, int, int]] = {
    "black": (16, 16, 20), "navy": (14, 32, 61), "grey": (78, 82, 94), "blue": (28, 48, 110)}

# Set -> how the card is presented. Every set varies the print axes; some add framing or copying.
SETS: dict[str, str] = {
    "xs-flat": "a flat digital card: edge and width axes",
    "xs-frame": "the card inside a screenshot, a letterbox or a phone photo of a screen",
    "xs-phone": "a phone photo of the card on a desk (the phone level's camera)",
    "xs-copy": "a photocopy, a grayscale copy or a card in a glaring plastic sleeve",
    "xs-small": "a card covering 3-8 % of a large screenshot, a letterbox, or a photo of a screen or a desk (small.py)",
}


@dataclass(frozen=True)
class CardStyle:
    """One card's values on every print axis (rendering reads these; framing is chosen per set)."""

    group: str
    sans: str
    nik_face: str
    background: str
    ink: tuple[int, int, int]
    ink_name: str
    weight: int
    spacing: str
    edge: str
    width: int
    frame: str
    finish: str


def _pick(rng: np.random.Generator, values: tuple):
    return values[int(rng.integers(len(values)))]


def sample_style(rng: np.random.Generator, group: str) -> CardStyle:
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    axis = {name: split[group] for name, split in SPLIT.items()}
    low, high = _pick(rng, axis["width"])
    ink_name = _pick(rng, axis["ink"])
    return CardStyle(
        group=group, sans=_pick(rng, axis["sans"]), nik_face=_pick(rng, axis["nik_face"]),
        background=_pick(rng, axis["background"]), ink=INKS[ink_name], ink_name=ink_name,
        weight=int(_pick(rng, axis["weight"])), spacing=_pick(rng, axis["spacing"]), edge=_pick(rng, axis["edge"]),
        width=int(rng.integers(low, high + 1)), frame=_pick(rng, axis["frame"]), finish=_pick(rng, axis["finish"]),
    )


# --- background prints --------------------------------------------------------------------------


def _wave_print(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """ "KARTU TANDA PENDUDUK" microprint in rows bent along a sine, as real blanks carry it (0..1)."""
    layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(layer)
    size = max(6, round(height * rng.uniform(0.011, 0.017)))  # microprint: a few px
    font = fonts.load(fonts.SANS, size, 400)
    text = "KARTU TANDA PENDUDUK " * (width // (size * 8) + 2)
    pitch = size * rng.uniform(1.5, 2.2)
    y = -size * 2.0
    while y < height + size:
        draw.text((-rng.uniform(0, size * 6), y), text, font=font, fill=255)
        y += pitch
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    amplitude, period, phase = height * rng.uniform(0.02, 0.05), width * rng.uniform(0.3, 0.6), rng.uniform(0, 6.3)
    map_y = yy + amplitude * np.sin(2 * math.pi * xx / period + phase)
    return cv2.remap(np.asarray(layer), xx, map_y.astype(np.float32), cv2.INTER_LINEAR).astype(np.float32) / 255


def styled_background(style: CardStyle, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    from extractor.synth.render import _background

    if style.background == "plain":
        top = np.array([168, 212, 240], np.float32) + rng.uniform(-10, 10, 3)
        yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        rgb = top * (1 - 0.3 * yy) + np.array([205, 230, 247], np.float32) * 0.3 * yy
        return Image.fromarray(np.clip(np.broadcast_to(rgb, (height, width, 3)), 0, 255).astype(np.uint8), "RGB")
    base = np.asarray(_background(width, height, rng), dtype=np.float32)
    if style.background == "guilloche":
        return Image.fromarray(base.astype(np.uint8), "RGB")
    if style.background == "dense":  # a stronger security print: the guilloche drawn twice more
        again = np.asarray(_background(width, height, rng), dtype=np.float32)
        base = np.clip(base * again / 200.0, 0, 255)
    wave = _wave_print(width, height, rng)[..., None] * rng.uniform(0.07, 0.13)
    rgb = base * (1 - wave) + np.array([70, 120, 175], np.float32) * wave
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


# --- edges and framing --------------------------------------------------------------------------


def _rounded_paste(page: Image.Image, card: Image.Image, at: tuple[int, int], radius_share: float = 0.037) -> None:
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1),
                                           radius=round(card.width * radius_share), fill=255)
    page.paste(card, at, mask)


def with_edge(rng: np.random.Generator, card: Image.Image, edge: str) -> Image.Image:
    """The card's surroundings in a digital image: a scanner bed, nothing, or a white margin."""
    if edge == "square":
        return card
    margin = max(2, int(card.width * rng.uniform(0.02, 0.06)))
    colour = tuple(int(v) for v in rng.integers(232, 248, 3)) if edge == "bed" else (255, 255, 255)
    page = Image.new("RGB", (card.width + 2 * margin, card.height + 2 * margin), colour)
    _rounded_paste(page, card, (margin, margin))
    if edge == "border":  # a thin grey page border, as an HTML mock-up's screenshot shows
        ImageDraw.Draw(page).rectangle((0, 0, page.width - 1, page.height - 1), outline=(150, 150, 150), width=2)
    return page


_UI_WORDS = ("Beranda Produk Tentang Kontak Masuk Daftar Unduh Simpan Cetak Kirim Generate Reset Pilih File "
             "Tanggal Provinsi Kota Lengkap Data Anda Pratinjau Hasil Bantuan Pengaturan Riwayat").split()


def _ui_text(rng: np.random.Generator, words: int) -> str:
    return " ".join(_pick(rng, tuple(_UI_WORDS)) for _ in range(words))


def page_screenshot(rng: np.random.Generator, render, width: int | None = None,
                    card_width: int | None = None) -> Image.Image:
    """A desktop browser page: a top bar, a form on the left, the rendered card on the right.

    ``width`` and ``card_width`` (px) are drawn when not given (the bench's frames draw both)."""
    width = int(_pick(rng, (1280, 1366, 1440, 1600, 1920))) if width is None else width
    height = int(width * rng.uniform(0.48, 0.6))
    page = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(236, 256, 3)))
    draw = ImageDraw.Draw(page)
    bar = tuple(int(v) for v in rng.integers(20, 120, 3))
    draw.rectangle((0, 0, width, int(height * 0.08)), fill=bar)
    small = fonts.load(fonts.SANS, max(10, width // 90))
    draw.text((width * 0.02, height * 0.02), _ui_text(rng, 5), font=small, fill=(250, 250, 250))
    y = height * 0.14
    while y < height * 0.9:
        draw.text((width * 0.04, y), _ui_text(rng, 2), font=small, fill=(60, 60, 60))
        draw.rectangle((width * 0.04, y + height * 0.035, width * 0.4, y + height * 0.075), outline=(180, 180, 180),
                       fill=(255, 255, 255))
        y += height * 0.11
    card = render(int(width * rng.uniform(0.3, 0.46)) if card_width is None else card_width)
    x = int(width * 0.5 + rng.uniform(0, width * 0.5 - card.width - 10))
    page.paste(card, (x, int(height * 0.12 + rng.uniform(0, max(1, height * 0.86 - card.height)))))
    return page


def app_screenshot(rng: np.random.Generator, render) -> Image.Image:
    """A phone messenger screenshot (portrait, dark theme): chat bubbles and the card sent as a picture."""
    width = int(_pick(rng, (720, 1080)))
    height = int(width * rng.uniform(1.9, 2.17))
    page = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(12, 30, 3)))
    draw = ImageDraw.Draw(page)
    font = fonts.load(fonts.SANS, width // 28)
    draw.rectangle((0, 0, width, int(height * 0.06)), fill=(32, 44, 51))
    card = render(int(width * rng.uniform(0.68, 0.82)))
    card_y = int(height * rng.uniform(0.3, 0.5))
    y = height * 0.08
    while y < height * 0.95:
        if card_y - 20 < y + height * 0.06 and y < card_y + card.height + 20:
            y = card_y + card.height + 40
            continue
        left = rng.random() < 0.5
        x0 = width * (0.04 if left else 0.35)
        draw.rounded_rectangle((x0, y, x0 + width * 0.6, y + height * 0.05), radius=width // 40,
                               fill=(32, 44, 51) if left else (0, 92, 75))
        draw.text((x0 + width * 0.03, y + height * 0.012), _ui_text(rng, 3), font=font, fill=(230, 230, 230))
        y += height * 0.07
    x = int(rng.uniform(0.04 * width, width - card.width - 0.04 * width))
    page.paste(card, (x, card_y))
    return page


def letterbox(rng: np.random.Generator, card: Image.Image) -> Image.Image:
    """Bars added to fit the card into a fixed aspect (16:9, 4:3, square), in black, white or grey."""
    aspect = float(_pick(rng, (16 / 9, 4 / 3, 1.0, 800 / 550)))
    width = max(card.width, round(card.height * aspect))
    height = max(card.height, round(width / aspect))
    colour = tuple([int(_pick(rng, (0, 255, 128)))] * 3)
    page = Image.new("RGB", (width, height), colour)
    page.paste(card, ((width - card.width) // 2, (height - card.height) // 2))
    return page


def on_screen(rng: np.random.Generator, card: Image.Image) -> Image.Image:
    """The card shown on a monitor: a dark bezel, a slightly lifted black level and the pixel grid
    whose beat against the camera's sensor shows as moire once photographed."""
    pixels = np.asarray(card, dtype=np.float32)
    height, width = pixels.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(2.6, 3.6)
    angle = rng.uniform(-0.12, 0.12)
    grid = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(angle) + yy * math.sin(angle)) / period)
    rows = 0.5 + 0.5 * np.sin(2 * math.pi * (yy * math.cos(angle) - xx * math.sin(angle)) / (period * 1.07))
    strength = rng.uniform(0.08, 0.16)
    pixels = pixels * (1 - strength * (grid * rows))[..., None]
    pixels = 20 + pixels * (225 / 255) * rng.uniform(0.9, 1.05, 3)
    bezel = max(8, int(width * rng.uniform(0.03, 0.06)))
    screen = np.full((height + 2 * bezel, width + 2 * bezel, 3), rng.uniform(10, 30), np.float32)
    screen[bezel:bezel + height, bezel:bezel + width] = pixels
    return Image.fromarray(np.clip(screen, 0, 255).astype(np.uint8), "RGB")


# --- copies -------------------------------------------------------------------------------------


def photocopy(rng: np.random.Generator, image: Image.Image) -> np.ndarray:
    """A photocopy: gray, washed-out light tones, toner speckle, a slightly skewed copy on paper."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    # Contrast curve of a copier: lights go white, darks go darker.
    lo, hi = rng.uniform(40, 80), rng.uniform(170, 205)
    gray = np.clip((gray - lo) / (hi - lo), 0, 1) ** rng.uniform(0.8, 1.2) * 255
    speckle = (rng.random(gray.shape) < rng.uniform(0.001, 0.004)) * rng.uniform(-200, -120)
    gray = cv2.GaussianBlur(gray + speckle.astype(np.float32), (0, 0), rng.uniform(0.4, 0.9))
    height, width = gray.shape
    margin = int(width * 0.06)
    paper = np.full((height + 2 * margin, width + 2 * margin), rng.uniform(238, 252), np.float32)
    paper[margin:margin + height, margin:margin + width] = gray
    rot = cv2.getRotationMatrix2D((paper.shape[1] / 2, paper.shape[0] / 2), rng.uniform(-2, 2), 1.0)
    paper = cv2.warpAffine(paper, rot, (paper.shape[1], paper.shape[0]), borderValue=float(paper[0, 0]))
    paper = paper + rng.normal(0, 2.5, paper.shape)
    return np.clip(paper, 0, 255).astype(np.uint8)


def sleeve(rng: np.random.Generator, card: Image.Image, kind: str) -> Image.Image:
    """A clear plastic sleeve over the card: a faint haze and a broad highlight (soft) or a streak (band).

    The highlight lifts the text's background but leaves the print legible: a readable photo.
    """
    pixels = np.asarray(card, dtype=np.float32)
    height, width = pixels.shape[:2]
    haze = rng.uniform(0.04, 0.1)
    pixels = pixels * (1 - haze) + 255 * haze
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "sleeve_soft":
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
        sigma = width * rng.uniform(0.12, 0.22)
        light = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2))
    else:
        angle = rng.uniform(0.5, 1.2)
        offset = rng.uniform(0.25, 0.75) * width
        distance = (xx - offset) * math.cos(angle) + (yy - height / 2) * math.sin(angle)
        light = np.exp(-(distance ** 2) / (2 * (width * rng.uniform(0.025, 0.05)) ** 2))
    gain = rng.uniform(0.35, 0.55)
    pixels = pixels + gain * light[..., None] * (255 - pixels)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


# --- one card -----------------------------------------------------------------------------------


def _encode(pixels: np.ndarray | Image.Image, quality: int) -> bytes:
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    return out.getvalue()


def generate_styled_card(rng_or_seed: np.random.Generator | int, set_name: str, group: str) -> tuple[bytes, dict]:
    """One cross-style card of ``set_name`` (see ``SETS``) with every style axis drawn from ``group``."""
    from extractor.synth.render import render_card

    if set_name not in SETS:
        raise ValueError(f"set must be one of {', '.join(SETS)}")
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(int(rng_or_seed))
    seed = None if isinstance(rng_or_seed, np.random.Generator) else int(rng_or_seed)
    if set_name == "xs-small":  # small.py draws its own style and framing from the seed
        from extractor.synth.small import KINDS, generate_small_card

        small_seed = int(rng.integers(2**31)) if seed is None else seed
        jpeg, truth = generate_small_card(small_seed, KINDS[small_seed % len(KINDS)], group)
        return jpeg, {**truth, "level": set_name, "frame": truth["level"]}
    style = sample_style(rng, group)
    holder = random_holder(rng)
    grayscale = False
    presented: dict[str, str] = {}

    def card(width: int) -> Image.Image:
        return render_card(holder, width, rng, style)

    if set_name == "xs-flat":
        image: np.ndarray | Image.Image = with_edge(rng, card(style.width), style.edge)
        presented["edge"] = style.edge
    elif set_name == "xs-frame":
        presented["frame"] = style.frame
        if style.frame == "page_screenshot":
            image = page_screenshot(rng, card)
        elif style.frame == "app_screenshot":
            image = app_screenshot(rng, card)
        elif style.frame == "letterbox":
            image = letterbox(rng, card(style.width))
        else:  # a phone photo of a monitor showing the card
            image = phone_photo(rng, lambda width: on_screen(rng, card(width)), corner_radius=0.01).pixels
    elif set_name == "xs-phone":
        image = phone_photo(rng, card).pixels
    else:
        presented["finish"] = style.finish
        if style.finish == "photocopy":
            image, grayscale = photocopy(rng, card(style.width)), True
        elif style.finish == "grayscale":
            image, grayscale = cv2.cvtColor(phone_photo(rng, card).pixels, cv2.COLOR_RGB2GRAY), True
        else:
            image = phone_photo(rng, lambda width: sleeve(rng, card(width), style.finish)).pixels
    quality = int(rng.integers(85, 96))
    jpeg = _encode(image, quality)
    described = asdict(style)
    described["ink"] = described.pop("ink_name")
    for axis in ("edge", "frame", "finish"):  # only the presentation this set used
        if axis not in presented:
            described.pop(axis)
    if not (set_name == "xs-flat" or presented.get("frame") == "letterbox" or presented.get("finish") == "photocopy"):
        described.pop("width")  # the frame or the photo chose the card's size
    truth = {"level": set_name, "group": group, "seed": seed, "fields": dict(holder.fields),
             "quality": {"blur": False, "dark": False, "flashlight": False, "grayscale": grayscale},
             "style": described, "jpeg_quality": quality}
    return jpeg, truth


def styled_seed(batch_seed: int, index: int, set_name: str, group: str) -> int:
    entropy = [batch_seed, 100 + list(SETS).index(set_name), GROUPS.index(group), index]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def write_styled_cards(n: int, out_dir: str | Path, set_name: str, group: str, seed: int = 0) -> list[Path]:
    """Write ``n`` cross-style cards as ``<stem>.jpg`` + ``<stem>.json``; returns the image paths."""
    return save_cards(out_dir, seed, f"{set_name}-{group}-{seed}",
                      (generate_styled_card(styled_seed(seed, index, set_name, group), set_name, group)
                       for index in range(n)))
