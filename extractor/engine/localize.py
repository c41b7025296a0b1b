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


def _quad_candidates(image: np.ndarray) -> list[np.ndarray]:
    scale = _SEARCH_SIDE / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    scale = min(scale, 1.0)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    masks = []
    edges = cv2.Canny(grey, 30, 90)
    masks.append(cv2.dilate(edges, np.ones((5, 5), np.uint8)))
    saturation = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1]
    for channel in (grey, cv2.GaussianBlur(saturation, (5, 5), 0)):
        _, otsu = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.extend([otsu, 255 - otsu])
    frame_area = small.shape[0] * small.shape[1]
    quads = []
    for mask in masks:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            area = cv2.contourArea(contour)
            if not 0.12 * frame_area <= area <= 0.97 * frame_area:
                continue
            hull = cv2.convexHull(contour)
            approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
            if len(approx) != 4:
                rect = cv2.minAreaRect(hull)
                if cv2.contourArea(hull) < 0.85 * rect[1][0] * rect[1][1]:
                    continue  # not rectangular enough
                approx = cv2.boxPoints(rect)
            quad = _order_corners(np.asarray(approx, dtype=np.float32)) / scale
            width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
            height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
            if height > 0 and 1.25 <= width / height <= 2.0:
                quads.append((area, quad))
    quads.sort(key=lambda item: item[0], reverse=True)
    return [quad for _, quad in quads]


def find_card(image: np.ndarray) -> np.ndarray | None:
    """The card's corners (TL, TR, BR, BL) in image pixels, or None when it fills the frame / is not found."""
    candidates = _quad_candidates(image)
    return candidates[0] if candidates else None


def warp_card(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    target = np.array([[0, 0], [CARD_WIDTH - 1, 0], [CARD_WIDTH - 1, CARD_HEIGHT - 1], [0, CARD_HEIGHT - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (CARD_WIDTH, CARD_HEIGHT), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


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
