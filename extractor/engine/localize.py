"""Find the card in a photo and warp it to a fixed-size, upright, front-facing rectangle."""

from __future__ import annotations

import cv2
import numpy as np

CARD_ASPECT = 85.60 / 53.98  # ID-1
CARD_WIDTH = 1000
CARD_HEIGHT = round(CARD_WIDTH / CARD_ASPECT)
_SEARCH_SIDE = 640  # contour search runs on a downscaled copy


class ImageDecodeError(ValueError):
    """The bytes are not an image OpenCV can decode."""


def decode(image: bytes) -> np.ndarray:
    if not image:
        raise ImageDecodeError("empty image")
    buffer = np.frombuffer(image, dtype=np.uint8)
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None or decoded.size == 0:
        raise ImageDecodeError("not a decodable image")
    return decoded


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left, with the long side horizontal."""
    pts = points.reshape(4, 2).astype(np.float32)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates, starting near top-left
    start = int(np.argmin(pts.sum(axis=1)))
    pts = np.roll(pts, -start, axis=0)
    top = np.linalg.norm(pts[1] - pts[0])
    side = np.linalg.norm(pts[3] - pts[0])
    if side > top:  # card stands upright in the frame: make the long edge the top
        pts = np.roll(pts, -1, axis=0)
    return pts


def _background_mask(small: np.ndarray) -> np.ndarray:
    """Pixels that differ from the frame's border colour (the card lies on a roughly even surface)."""
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (7, 7), 0), cv2.COLOR_BGR2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    ring = max(4, min(h, w) // 25)
    border = np.concatenate([lab[:ring].reshape(-1, 3), lab[-ring:].reshape(-1, 3), lab[:, :ring].reshape(-1, 3), lab[:, -ring:].reshape(-1, 3)])
    background = np.median(border, axis=0)
    spread = np.percentile(np.linalg.norm(border - background, axis=1), 90)
    distance = np.linalg.norm(lab - background, axis=2)
    return (distance > max(12.0, 1.5 * spread)).astype(np.uint8) * 255


def _quad_candidates(image: np.ndarray) -> list[np.ndarray]:
    scale = min(1.0, _SEARCH_SIDE / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    masks = [_background_mask(small)]
    for low, high in ((30, 90), (10, 40)):
        masks.append(cv2.dilate(cv2.Canny(grey, low, high), np.ones((5, 5), np.uint8)))
    saturation = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1], (5, 5), 0)
    for channel in (grey, saturation):
        _, otsu = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.extend([otsu, 255 - otsu])
    frame_h, frame_w = small.shape[:2]
    frame_area = frame_h * frame_w
    scored = []
    for mask in masks:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            area = cv2.contourArea(contour)
            if not 0.12 * frame_area <= area <= 0.97 * frame_area:
                continue
            hull = cv2.convexHull(contour)
            approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
            if len(approx) != 4:
                approx = cv2.boxPoints(cv2.minAreaRect(hull))
            quad = _order_corners(np.asarray(approx, dtype=np.float32))
            quad_area = cv2.contourArea(quad)
            if quad_area <= 0:
                continue
            fill = min(area / quad_area, quad_area / area)
            width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
            height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
            if height <= 0 or fill < 0.8:
                continue
            aspect = width / height
            if not 1.3 <= aspect <= 1.9:
                continue
            xs, ys = quad[:, 0], quad[:, 1]
            whole_frame = xs.min() < 3 and ys.min() < 3 and xs.max() > frame_w - 4 and ys.max() > frame_h - 4
            if whole_frame:
                continue
            score = area * fill * (1.0 - min(0.5, abs(aspect - CARD_ASPECT)))
            touching = sum((xs.min() < 3, ys.min() < 3, xs.max() > frame_w - 4, ys.max() > frame_h - 4))
            if touching >= 2:
                score *= 0.5  # more likely vignetting or the table than the card itself
            scored.append((score, quad / scale))
    scored.sort(key=lambda item: item[0], reverse=True)
    return [quad for _, quad in scored]


def find_card(image: np.ndarray) -> np.ndarray | None:
    """The card's corners (TL, TR, BR, BL) in image pixels, or None when it fills the frame / is not found."""
    candidates = _quad_candidates(image)
    return candidates[0] if candidates else None


def estimate_skew(image: np.ndarray) -> float:
    """Dominant text-line angle in degrees (positive = lines fall to the right), from line blobs."""
    scale = min(1.0, 1000 / max(image.shape[:2]))
    grey = cv2.cvtColor(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    # Black-hat keeps thin dark strokes (text) and drops the card edge and soft background patterns.
    strokes = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    _, ink = cv2.threshold(strokes, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    blobs = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (17, 3)))
    contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    angles, weights = [], []
    for contour in contours:
        (_, _), (w, h), angle = cv2.minAreaRect(contour)
        if w < h:
            w, h, angle = h, w, angle - 90
        if w < 60 or h < 4 or w < 4 * h:
            continue
        angle = (angle + 90) % 180 - 90
        if abs(angle) <= 30:
            angles.append(angle)
            weights.append(w)
    if len(angles) < 3:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def deskew(image: np.ndarray, angle: float) -> np.ndarray:
    if abs(angle) < 0.5:
        return image
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_card(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    target = np.array([[0, 0], [CARD_WIDTH - 1, 0], [CARD_WIDTH - 1, CARD_HEIGHT - 1], [0, CARD_HEIGHT - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    # A card under CARD_WIDTH px (480-720 px images) is upscaled: cubic keeps strokes crisper for
    # the OCR than the area filter, which only suits shrinking.
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    interpolation = cv2.INTER_CUBIC if width < CARD_WIDTH else cv2.INTER_AREA
    return cv2.warpPerspective(image, matrix, (CARD_WIDTH, CARD_HEIGHT), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)


def fit_width(image: np.ndarray, width: int = CARD_WIDTH) -> np.ndarray:
    """The whole frame scaled so its long side is ``width`` (used when no card outline is found)."""
    scale = width / max(image.shape[:2])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)


ROTATIONS = {
    0: None,
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    code = ROTATIONS[degrees]
    return image if code is None else cv2.rotate(image, code)


def encode_for_ocr(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".bmp", image)  # lossless and the cheapest format to encode/decode
    if not ok:
        raise RuntimeError("could not encode the normalised card")
    return buffer.tobytes()
