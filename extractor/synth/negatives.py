"""Photos with no KTP in them, to measure how often an engine sees a card that is not there.

Kinds: the empty desk, a membership card (ID-1 size, a few label : value rows, but not a KTP's),
a typed letter page and a shop receipt, and the KTP look-alikes of extractor/synth/lookalikes.py
(SIM, NPWP, student card, domicile letter listing Nama/NIK, blank card, parody card, a 20-digit
"NIK"), each photographed like the ``phone`` level.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from extractor.synth import fonts
from extractor.synth.degrade import desk_photo, phone_photo
from extractor.synth.holder import random_holder
from extractor.synth.lookalikes import LOOKALIKE_KINDS, RENDERERS

NEGATIVE_KINDS: tuple[str, ...] = ("desk", "member_card", "letter", "receipt", *LOOKALIKE_KINDS)

_WORDS = (
    "dengan ini kami sampaikan bahwa yang bersangkutan telah melaksanakan kegiatan sesuai jadwal "
    "mohon agar surat ini dapat dipergunakan sebagaimana mestinya atas perhatian dan kerja sama "
    "bapak ibu kami ucapkan terima kasih rapat koordinasi akan diadakan pada hari senin bertempat "
    "di balai desa laporan keuangan bulan ini telah diperiksa dan disetujui oleh pengurus"
).split()
_ITEMS = ("BERAS 5KG", "GULA PASIR", "MINYAK GORENG 2L", "TELUR 1KG", "KOPI BUBUK", "SABUN CUCI",
          "MIE INSTAN", "TEH CELUP", "AIR MINERAL", "SUSU UHT", "ROTI TAWAR", "KECAP MANIS")


def _sentence(rng: np.random.Generator, words: int) -> str:
    return " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), words))


def _member_card(rng: np.random.Generator, width: int) -> Image.Image:
    height = round(width / (85.6 / 53.98))
    colour = tuple(int(c) for c in rng.choice([[222, 240, 222], [245, 236, 210], [235, 235, 240], [250, 225, 225]]))
    card = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(card)
    s = width / 1000
    holder = random_holder(rng)
    title = str(rng.choice(["KARTU ANGGOTA", "KARTU PERPUSTAKAAN", "KARTU PELAJAR", "MEMBER CARD"]))
    draw.rectangle((0, 0, width, 110 * s), fill=tuple(int(c * 0.55) for c in colour))
    draw.text((40 * s, 30 * s), title, font=fonts.load(fonts.SANS, round(44 * s), 700), fill=(255, 255, 255))
    body = fonts.load(fonts.SANS, round(26 * s))
    rows = (("Nama", holder.fields["full_name"]), ("No. Anggota", f"{int(rng.integers(10**6, 10**7))}"),
            ("Berlaku s/d", holder.fields["issue_date"]))
    for i, (label, value) in enumerate(rows):
        y = (170 + 48 * i) * s
        draw.text((40 * s, y), label, font=body, fill=(20, 20, 20))
        draw.text((250 * s, y), f": {value}", font=body, fill=(20, 20, 20))
    return card


def _letter(rng: np.random.Generator, width: int) -> Image.Image:
    height = round(width * 297 / 210)
    page = Image.new("RGB", (width, height), (248, 248, 244))
    draw = ImageDraw.Draw(page)
    s = width / 1000
    draw.text((80 * s, 80 * s), "SURAT KETERANGAN", font=fonts.load(fonts.SANS, round(40 * s), 700), fill=(15, 15, 15))
    body = fonts.load(fonts.SANS, round(24 * s))
    y = 170 * s
    while y < height - 120 * s:
        draw.text((80 * s, y), _sentence(rng, int(rng.integers(6, 10))), font=body, fill=(25, 25, 25))
        y += 38 * s
    return page


def _receipt(rng: np.random.Generator, width: int) -> Image.Image:
    # A receipt is tall and narrow; ``width`` is its printed width here.
    height = round(width * rng.uniform(1.4, 2.0))
    slip = Image.new("RGB", (width, height), (244, 244, 238))
    draw = ImageDraw.Draw(slip)
    s = width / 1000
    mono = fonts.load(fonts.MONO, round(46 * s))
    draw.text((60 * s, 50 * s), "TOKO SERBA ADA", font=fonts.load(fonts.MONO, round(56 * s), 700), fill=(30, 30, 30))
    y = 160 * s
    total = 0
    while y < height - 200 * s:
        price = int(rng.integers(3, 120)) * 1000
        total += price
        draw.text((60 * s, y), f"{_ITEMS[int(rng.integers(len(_ITEMS)))]:<18}{price:>9,}", font=mono, fill=(35, 35, 35))
        y += 64 * s
    draw.text((60 * s, y + 40 * s), f"{'TOTAL':<18}{total:>9,}", font=mono, fill=(20, 20, 20))
    return slip


_RENDERERS = {"member_card": (_member_card, 0.035), "letter": (_letter, 0.002), "receipt": (_receipt, 0.002),
              **RENDERERS}


def generate_non_card(rng_or_seed: np.random.Generator | int, kind: str | None = None) -> tuple[bytes, dict]:
    """A JPEG photo with no KTP in it and its truth ``{"level": "none", "ktp": False, "kind": ...}``."""
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(int(rng_or_seed))
    seed = None if isinstance(rng_or_seed, np.random.Generator) else int(rng_or_seed)
    kind = kind or str(rng.choice(NEGATIVE_KINDS))
    if kind == "desk":
        photo = desk_photo(rng)
    elif kind in _RENDERERS:
        render, radius = _RENDERERS[kind]
        photo = phone_photo(rng, lambda width: render(rng, width), corner_radius=radius)
    else:
        raise ValueError(f"kind must be one of {', '.join(NEGATIVE_KINDS)}")
    out = io.BytesIO()
    Image.fromarray(photo.pixels).save(out, "JPEG", quality=photo.jpeg_quality)
    return out.getvalue(), {"level": "none", "seed": seed, "ktp": False, "kind": kind}


def write_non_cards(n: int, out_dir: str | Path, seed: int = 0) -> list[Path]:
    """Write ``n`` no-KTP photos as ``none-<seed>-<index>.jpg`` + ``.json``; returns the image paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        this_seed = int(np.random.SeedSequence([seed, 99, index]).generate_state(1, dtype=np.uint32)[0])
        # Cycle through the kinds so even a small batch has each of them.
        jpeg, truth = generate_non_card(this_seed, NEGATIVE_KINDS[index % len(NEGATIVE_KINDS)])
        truth.update(batch_seed=seed, index=index)
        stem = f"none-{seed}-{index:04d}"
        (out / f"{stem}.jpg").write_bytes(jpeg)
        (out / f"{stem}.json").write_text(json.dumps(truth, indent=2) + "\n")
        paths.append(out / f"{stem}.jpg")
    return paths
