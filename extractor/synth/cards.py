"""Synthetic KTP images with their ground truth, per difficulty level."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from extractor.synth.degrade import hard_photo, phone_photo
from extractor.synth.holder import random_holder
from extractor.synth.render import render_card

LEVELS: tuple[str, ...] = ("clean", "phone", "hard")
QUALITY_KEYS: tuple[str, ...] = ("blur", "dark", "flashlight", "grayscale")


def card_seed(batch_seed: int, index: int, level: str) -> int:
    """A per-card seed derived from the batch seed, so one card can be regenerated on its own.

    The level takes part, so a batch of each level shows different people.
    """
    entropy = [batch_seed, LEVELS.index(level), index]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def _rng(rng_or_seed: np.random.Generator | int) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed, None
    return np.random.default_rng(int(rng_or_seed)), int(rng_or_seed)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    return out.getvalue()


def _clean(rng: np.random.Generator, card: Image.Image) -> Image.Image:
    """A flat scan: the card on a pale scanner bed with a narrow margin."""
    margin = int(card.width * rng.uniform(0.02, 0.05))
    bed = tuple(int(v) for v in rng.integers(232, 248, 3))
    page = Image.new("RGB", (card.width + 2 * margin, card.height + 2 * margin), bed)
    # ID-1 cards have rounded corners (3.18 mm radius on 85.6 mm).
    mask = Image.new("L", card.size, 0)
    radius = round(card.width * 0.037)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), radius=radius, fill=255)
    page.paste(card, (margin, margin), mask)
    return page


def generate_card(rng_or_seed: np.random.Generator | int, level: str) -> tuple[bytes, dict]:
    """One card: ``(jpeg_bytes, truth)``; the same seed and level always give the same bytes."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    rng, seed = _rng(rng_or_seed)
    holder = random_holder(rng)
    if level == "clean":
        quality = dict.fromkeys(QUALITY_KEYS, False)
        width = int(rng.integers(1100, 1401))
        jpeg = _jpeg(_clean(rng, render_card(holder, width, rng)), 92)
        params: dict = {"card_width_px": width, "jpeg_quality": 92}
    else:
        degrade = phone_photo if level == "phone" else hard_photo
        photo = degrade(rng, lambda width: render_card(holder, width, rng))
        quality = {key: bool(photo.quality[key]) for key in QUALITY_KEYS}
        jpeg = _jpeg(Image.fromarray(photo.pixels), photo.jpeg_quality)
        params = photo.params
    truth = {"level": level, "seed": seed, "fields": dict(holder.fields), "quality": quality,
             "degradation": params}
    return jpeg, truth


def write_cards(n: int, out_dir: str | Path, level: str, seed: int = 0) -> list[Path]:
    """Write ``n`` cards as ``<stem>.jpg`` + ``<stem>.json`` into ``out_dir``; returns the image paths."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    return save_cards(out_dir, seed, f"{level}-{seed}",
                      (generate_card(card_seed(seed, index, level), level) for index in range(n)))


def save_cards(out_dir: str | Path, seed: int, prefix: str, cards) -> list[Path]:
    """Write each (jpeg, truth) as ``<prefix>-NNNN.jpg`` + ``.json``; returns the image paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (jpeg, truth) in enumerate(cards):
        truth.update(batch_seed=seed, index=index)
        stem = f"{prefix}-{index:04d}"
        (out / f"{stem}.jpg").write_bytes(jpeg)
        (out / f"{stem}.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
        paths.append(out / f"{stem}.jpg")
    return paths
