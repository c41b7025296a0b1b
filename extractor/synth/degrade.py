"""Turn a flat card render into a phone photo (``phone``) or a deliberately bad one (``hard``).

``phone``: the card lies on a desk-like surface and fills 55-90 % of the frame width, rotated up
to ±8° with a little perspective, uneven light, mild blur, sensor noise and JPEG compression. Every
one of these stays on the acceptable side of a quality check.

``hard``: a phone photo plus at least one deliberate quality problem (strong blur, underexposure,
flashlight glare), sometimes two, and a grayscale copy for some. Severity is tuned so the text is
visibly degraded but still mostly readable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from extractor.synth.grids import interleaved, per_channel, pixel_grid

PROBLEMS: tuple[str, ...] = ("blur", "dark", "flashlight")


@dataclass
class Photo:
    """A degraded frame (RGB, or single-channel when grayscale) and the problems applied to it."""

    pixels: np.ndarray
    quality: dict[str, bool] = field(default_factory=lambda: dict.fromkeys((*PROBLEMS, "grayscale"), False))
    jpeg_quality: int = 90
    # How it was made (card size, rotation, blur kind and size, ...), for analysing engine failures.
    params: dict[str, float | str] = field(default_factory=dict)


# --- surfaces -----------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: random values on a coarse grid, bicubically upsampled."""
    grid = rng.random((max(2, height // cell + 2), max(2, width // cell + 2))).astype(np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)


def _desk(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A table-like surface: wood grain, a plain laminate or a speckled stone top (float RGB planes,
    channel-first: grids.per_channel)."""
    kind = rng.choice(["wood", "laminate", "stone"], p=[0.45, 0.3, 0.25])
    yy, xx = pixel_grid(height, width)
    if kind == "wood":
        base = np.array(rng.choice([[150, 100, 60], [120, 80, 50], [175, 130, 85], [95, 65, 45]]), np.float32)
        angle = rng.uniform(-0.3, 0.3)
        along = xx * math.cos(angle) - yy * math.sin(angle)
        across = yy * math.cos(angle) + xx * math.sin(angle)
        # Fine grain lines that meander slowly, plus broad planks of slightly different tone.
        meander = _smooth_noise(rng, height, width, 220) * 25 + 4 * np.sin(along / rng.uniform(80, 160))
        grain = 0.5 + 0.5 * np.sin((across + meander) / rng.uniform(2.5, 4.5))
        grain = grain ** 3
        plank = np.floor(across / rng.uniform(180, 320))
        plank_tone = 0.92 + 0.12 * ((plank * 0.618) % 1.0)
        shade = plank_tone * (0.9 + 0.1 * _smooth_noise(rng, height, width, 70)) - 0.12 * grain
        noise = rng.normal(0, 2, (height, width)).astype(np.float32)
        return per_channel(lambda c: base[c] * shade + noise)
    if kind == "laminate":
        base = np.array(rng.choice([[215, 215, 210], [60, 62, 66], [200, 190, 170], [120, 130, 120]]), np.float32)
        shade = 0.94 + 0.1 * _smooth_noise(rng, height, width, 120)
        noise = rng.normal(0, 3, (height, width))
        return per_channel(lambda c: base[c] * shade + noise)
    base = np.array(rng.choice([[180, 180, 178], [90, 90, 92], [205, 200, 190]]), np.float32)
    speckle = rng.normal(0, 12, (height, width)).astype(np.float32)
    speckle = cv2.GaussianBlur(speckle, (0, 0), 1.2)
    shade = 0.9 + 0.15 * _smooth_noise(rng, height, width, 90)
    return per_channel(lambda c: base[c] * shade + speckle)


# --- geometry -----------------------------------------------------------------------------------


def _rounded_mask(height: int, width: int, radius: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.rectangle(mask, (radius, 0), (width - 1 - radius, height - 1), 255, -1)
    cv2.rectangle(mask, (0, radius), (width - 1, height - 1 - radius), 255, -1)
    for cx, cy in ((radius, radius), (width - 1 - radius, radius), (radius, height - 1 - radius),
                   (width - 1 - radius, height - 1 - radius)):
        cv2.circle(mask, (cx, cy), radius, 255, -1, lineType=cv2.LINE_AA)
    return mask


def _placement(rng: np.random.Generator, card_w: int, card_h: int, frame_w: int, frame_h: int,
               fill: float, max_angle: float, skew: float) -> np.ndarray:
    """Where the card's four corners land in the frame: scale to ``fill``, rotate, skew, keep inside."""
    src = np.array([[0, 0], [card_w, 0], [card_w, card_h], [0, card_h]], np.float32)
    target_w = fill * frame_w
    angle = math.radians(rng.uniform(-max_angle, max_angle))
    for _ in range(20):
        scale = target_w / card_w
        pts = (src - [card_w / 2, card_h / 2]) * scale
        # Perspective: move each corner a little, more along the card's depth axis.
        pts += rng.uniform(-skew, skew, (4, 2)) * [target_w, target_w * card_h / card_w]
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32)
        pts = pts @ rot.T
        span = pts.max(0) - pts.min(0)
        margin = 0.02 * frame_w
        if span[0] <= frame_w - 2 * margin and span[1] <= frame_h - 2 * margin:
            lo = -pts.min(0) + margin
            hi = np.array([frame_w, frame_h]) - pts.max(0) - margin
            return (pts + rng.uniform(lo, hi)).astype(np.float32)
        target_w *= 0.95
    raise RuntimeError("card does not fit in the frame")  # pragma: no cover - fill is bounded


# --- photometric --------------------------------------------------------------------------------


def _lighting(rng: np.random.Generator, height: int, width: int, low: float, high: float) -> np.ndarray:
    """A smooth gain field (height, width): a linear fall-off plus a soft lamp, between ``low`` and ``high``."""
    yy, xx = pixel_grid(height, width)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xx / width - 0.5) * math.cos(angle) + (yy / height - 0.5) * math.sin(angle)
    lx, ly = rng.uniform(0, width), rng.uniform(0, height)
    lamp = np.exp(-(((xx - lx) ** 2 + (yy - ly) ** 2) / (2 * (0.6 * width) ** 2)))
    field = 0.6 * (ramp - ramp.min()) / max(1e-6, np.ptp(ramp)) + 0.4 * lamp
    field = (field - field.min()) / max(1e-6, np.ptp(field))
    return low + (high - low) * field


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return kernel / kernel.sum()


def _glare(rng: np.random.Generator, frame: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, float]:
    """A flashlight reflection: a saturated white core with a soft halo, somewhere on the card."""
    height, width = frame.shape[:2]
    card_w = float(np.linalg.norm(corners[1] - corners[0]))
    u, v = rng.uniform(0.15, 0.85), rng.uniform(0.2, 0.8)
    top = corners[0] + (corners[1] - corners[0]) * u
    bottom = corners[3] + (corners[2] - corners[3]) * u
    cx, cy = top + (bottom - top) * v
    yy, xx = pixel_grid(height, width)
    sx = card_w * rng.uniform(0.045, 0.075)
    sy = sx * rng.uniform(0.75, 1.0)
    d2 = ((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2
    core = np.exp(-d2 / 2)
    halo = np.exp(-d2 / 18)
    boost = (rng.uniform(1.4, 2.0) * core + 0.25 * halo)[..., None]
    return frame + boost * (270.0 - frame * 0.3), round(float(sx), 1)


# --- pipelines ----------------------------------------------------------------------------------


# Renders the flat card at a requested pixel width.
CardRenderer = Callable[[int], Image.Image]


def _describe(corners: np.ndarray, frame: np.ndarray) -> dict[str, float | str]:
    top = corners[1] - corners[0]
    return {
        "frame": f"{frame.shape[1]}x{frame.shape[0]}",
        "card_width_px": round(float(np.linalg.norm(top)), 1),
        "rotation_deg": round(math.degrees(math.atan2(float(top[1]), float(top[0]))), 2),
    }


def _phone_frame(rng: np.random.Generator, render: CardRenderer, *, hard: bool,
                 corner_radius: float = 0.035, fill: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Card on a desk, in perspective, with uneven light. Returns the float RGB frame and card corners.

    ``fill`` is the card's share of the frame width (default: drawn from 0.55-0.9)."""
    frame_w = int(rng.integers(1280, 1601))
    frame_h = int(frame_w * 0.75)
    fill = rng.uniform(0.55, 0.9) if fill is None else fill
    # Render slightly larger than it will appear so the warp only ever shrinks.
    card_rgb = np.asarray(render(int(fill * frame_w * 1.1)), dtype=np.uint8)
    card_h, card_w = card_rgb.shape[:2]
    corners = _placement(rng, card_w, card_h, frame_w, frame_h, fill, 8.0, 0.025)
    src = np.array([[0, 0], [card_w, 0], [card_w, card_h], [0, card_h]], np.float32)
    homography = cv2.getPerspectiveTransform(src, corners)

    mask = _rounded_mask(card_h, card_w, max(1, int(card_w * corner_radius)))
    warped = cv2.warpPerspective(card_rgb, homography, (frame_w, frame_h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
    alpha = cv2.warpPerspective(mask, homography, (frame_w, frame_h), flags=cv2.INTER_LINEAR).astype(np.float32)
    alpha = alpha / 255.0

    # Channel-first from here (grids.per_channel): a per-pixel term then spans whole planes.
    desk = _desk(rng, frame_h, frame_w)
    # Soft drop shadow under the card.
    shift = rng.uniform(4, 14, 2)
    shadow = cv2.warpAffine(alpha, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (frame_w, frame_h))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 9)
    # In place where the result is a new array anyway (the same values, fewer 46 MB temporaries).
    desk *= 1 - 0.35 * shadow
    frame = desk * (1 - alpha)
    frame += warped.transpose(2, 0, 1) * alpha
    low, high = (0.82, 1.06) if not hard else (0.78, 1.06)
    frame = frame * _lighting(rng, frame_h, frame_w, low, high)  # float64 from here (a stone desk is float32)
    # Camera white balance is never quite neutral.
    frame *= rng.uniform(0.94, 1.06, 3).astype(np.float32)[:, None, None]
    return interleaved(frame), corners


def _finish(rng: np.random.Generator, frame: np.ndarray, blur_sigma: float, noise: float) -> np.ndarray:
    frame = cv2.GaussianBlur(frame, (0, 0), blur_sigma)
    frame = frame + rng.normal(0, noise, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255, out=frame).astype(np.uint8)


def _card_scale(corners: np.ndarray) -> float:
    """The card's width in the frame over 1000 px: blur is sized to the text, not to the frame."""
    return float(np.linalg.norm(corners[1] - corners[0])) / 1000.0


def _mild_blur(rng: np.random.Generator, corners: np.ndarray) -> float:
    return _card_scale(corners) * rng.uniform(0.3, 0.7)


def phone_photo(rng: np.random.Generator, render: CardRenderer, corner_radius: float = 0.035,
                fill: float | None = None) -> Photo:
    """A phone photo of whatever ``render`` draws (a KTP; or another card or a page, for negatives)."""
    frame, corners = _phone_frame(rng, render, hard=False, corner_radius=corner_radius, fill=fill)
    params = _describe(corners, frame)
    sigma, noise = _mild_blur(rng, corners), rng.uniform(1.5, 3.5)
    pixels = _finish(rng, frame, sigma, noise)
    photo = Photo(pixels=pixels, jpeg_quality=int(rng.integers(72, 91)), params=params)
    photo.params.update(blur_sigma=round(sigma, 2), noise=round(noise, 2), jpeg_quality=photo.jpeg_quality)
    return photo


def desk_photo(rng: np.random.Generator) -> Photo:
    """The desk alone: a photo with no document in it."""
    frame_w = int(rng.integers(1280, 1601))
    frame_h = int(frame_w * 0.75)
    frame = interleaved(_desk(rng, frame_h, frame_w) * _lighting(rng, frame_h, frame_w, 0.82, 1.06))
    pixels = _finish(rng, frame, rng.uniform(0.3, 0.8), rng.uniform(1.5, 3.5))
    return Photo(pixels=pixels, jpeg_quality=int(rng.integers(72, 91)), params={"frame": f"{frame_w}x{frame_h}"})


def hard_photo(rng: np.random.Generator, render: CardRenderer, problems: tuple[str, ...] | None = None,
               grayscale: bool | None = None) -> Photo:
    """A phone photo with one (sometimes two) problems; ``problems``/``grayscale`` force the choice."""
    frame, corners = _phone_frame(rng, render, hard=True)
    chosen = [str(rng.choice(PROBLEMS))]
    if rng.random() < 0.15:
        chosen.append(str(rng.choice([p for p in PROBLEMS if p != chosen[0]])))
    gray_copy = bool(rng.random() < 0.3)
    if problems is not None:
        if not problems or any(p not in PROBLEMS for p in problems):
            raise ValueError(f"problems must be a non-empty subset of {PROBLEMS}")
        chosen = list(problems)
    if grayscale is not None:
        gray_copy = grayscale
    problems = tuple(chosen)
    photo = Photo(pixels=frame, jpeg_quality=int(rng.integers(65, 86)), params=_describe(corners, frame))
    params = photo.params

    noise = rng.uniform(1.5, 3.5)
    blur_sigma = _mild_blur(rng, corners)
    if "flashlight" in problems:
        frame, params["glare_sigma_px"] = _glare(rng, frame, corners)
    if "dark" in problems:
        # Underexposed: most light gone, a crushed gamma, and the sensor noise of a high ISO.
        gain = rng.uniform(0.25, 0.36)
        frame = 255.0 * (np.clip(frame, 0, 255) / 255.0 * gain) ** rng.uniform(1.0, 1.15)
        noise = rng.uniform(2.0, 4.0)
        params["dark_gain"] = round(gain, 3)
    if "blur" in problems:
        # At least 2.5x the strongest mild blur of a phone photo, relative to the card's size.
        card_scale = _card_scale(corners)
        frame = np.clip(frame, 0, 255)
        if rng.random() < 0.5:
            blur_sigma = card_scale * rng.uniform(1.75, 2.3)
            params["blur_kind"] = "gaussian"
        else:
            length = max(5, round(card_scale * rng.uniform(5.5, 7.5)))
            frame = cv2.filter2D(frame, -1, _motion_kernel(length, rng.uniform(0, 180)))
            params.update(blur_kind="motion", motion_px=length)
    params.update(blur_sigma=round(blur_sigma, 2), noise=round(noise, 2), jpeg_quality=photo.jpeg_quality)
    pixels = _finish(rng, frame, blur_sigma, noise)
    for problem in problems:
        photo.quality[problem] = True
    if gray_copy:
        photo.quality["grayscale"] = True
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    photo.pixels = pixels
    return photo
