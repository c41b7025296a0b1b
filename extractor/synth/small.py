"""A KTP that fills only a small share of the image: a large screenshot, a wide letterbox, a phone
photo of a monitor showing a page, or a card photographed from afar on a desk.

The bench's xs-frame cards cover 10-90 % of their frame; these cover about 3-8 % (``share``). In a
screenshot or letterbox the card stays 420-640 px wide, so its print is legible once cut out; in a
photo (1280-1600 px wide) it covers 5-8 %, 330-450 px. Style axes come from one
group of styles.SPLIT, as for the cross-style sets.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
from PIL import Image

from extractor.synth.degrade import phone_photo
from extractor.synth.holder import random_holder
from extractor.synth.render import CARD_ASPECT
from extractor.synth.styles import TUNED, _encode, on_screen, page_screenshot, sample_style

KINDS: tuple[str, ...] = ("page", "letterbox", "screen_photo", "desk_photo")


def _canvas_for(card_w: int, share: float, aspect: float) -> tuple[int, int]:
    """Frame size (w, h) of ``aspect`` in which a card ``card_w`` px wide covers ``share`` of the area."""
    area = card_w * (card_w / CARD_ASPECT) / share
    return round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))


def small_letterbox(rng: np.random.Generator, card: Image.Image, share: float) -> Image.Image:
    """The card somewhere on a plain (black, white, grey or tinted) field much larger than itself."""
    width, height = _canvas_for(card.width, share, float(rng.choice([16 / 9, 4 / 3, 1.0, 9 / 16])))
    colour = tuple(int(v) for v in rng.choice([[0, 0, 0], [255, 255, 255], [128, 128, 128], [30, 40, 60]]))
    page = Image.new("RGB", (width, height), colour)
    x = int(rng.uniform(0.03, 0.97) * (width - card.width))
    y = int(rng.uniform(0.03, 0.97) * (height - card.height))
    page.paste(card, (x, y))
    return page


def generate_small_card(seed: int, kind: str, group: str = TUNED, share: float | None = None) -> tuple[bytes, dict]:
    """One card of ``kind`` covering about ``share`` of the image (default drawn, see above)."""
    from extractor.synth.render import render_card

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    rng = np.random.default_rng(int(seed))
    style = sample_style(rng, group)
    holder = random_holder(rng)
    # A photo's size is fixed (1280-1600 px wide): below 5 % its card would be under 350 px.
    share = float(rng.uniform(0.05 if kind.endswith("photo") else 0.03, 0.08)) if share is None else share
    card_w = int(rng.integers(420, 641))

    def card(width: int) -> Image.Image:
        return render_card(holder, width, rng, style)

    if kind == "page":
        # Page width so that card_w covers `share` of a page about 0.55 as high as it is wide.
        page_w = round(math.sqrt(card_w * card_w / CARD_ASPECT / share / 0.55))
        image = page_screenshot(rng, card, width=max(page_w, 2 * card_w + 40), card_width=card_w)
    elif kind == "letterbox":
        image = small_letterbox(rng, card(card_w), share)
    elif kind == "screen_photo":
        # A monitor showing a page with the card on it, the screen filling most of a 4:3 photo: the
        # card is `ratio` of the page's width, so share = (ratio * fill)^2 / (CARD_ASPECT * 0.75)
        # (the photo's size, not card_w, sets the card's size here).
        fill = float(rng.uniform(0.8, 0.9))
        ratio = min(0.45, math.sqrt(share * CARD_ASPECT * 0.75) / fill)
        page_w = 1920
        page = page_screenshot(rng, card, width=page_w, card_width=round(ratio * page_w))
        image = phone_photo(rng, lambda _width: on_screen(rng, page), corner_radius=0.01, fill=fill).pixels
    else:
        # Card width over photo width, for a 4:3 photo: share = fill^2 / (CARD_ASPECT * 0.75).
        fill = math.sqrt(share * CARD_ASPECT * 0.75)
        image = phone_photo(rng, card, fill=fill).pixels
    quality = int(rng.integers(85, 96))
    jpeg = _encode(image, quality)
    described = {axis: value for axis, value in asdict(style).items() if axis not in ("edge", "frame", "finish", "width")}
    described["ink"] = described.pop("ink_name")
    truth = {"level": f"small-{kind}", "group": group, "seed": int(seed), "share": round(share, 4),
             "fields": dict(holder.fields), "quality": {"blur": False, "dark": False, "flashlight": False,
                                                         "grayscale": False}, "style": described, "jpeg_quality": quality}
    return jpeg, truth
