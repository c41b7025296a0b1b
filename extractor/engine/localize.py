"""Find the card in a photo and warp it to a fixed-size, upright, front-facing rectangle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

CARD_ASPECT = 85.60 / 53.98  # ID-1
CARD_WIDTH = 1000
CARD_HEIGHT = round(CARD_WIDTH / CARD_ASPECT)
_SEARCH_SIDE = 640  # contour search runs on a downscaled copy
# The smallest card searched for, as a share of the frame's area: a KTP in a screenshot of a page
# or a chat, in a wide letterbox or far off in a photo covers a few percent (was 0.12). On the
# 640 px copy a card of 2.5 % is still ~90 px wide.
MIN_CARD_SHARE = 0.025
_CONTOURS_PER_MASK = 12
# An outline is card-like (preferred to a page or bezel it lies in) when it is this clean a
# rectangle, this close to ID-1's aspect, and clear of the frame's edges.
_CARD_LIKE_FILL = 0.9
_CARD_LIKE_ASPECT = 0.15
# A held card covers at most this share of the outline holding it: a page body or a monitor
# held the tuned and small-frame cards at 0.1-0.3, a phone photo's card a card-like cut of
# itself at 0.78 (xs-phone tuned), a bezel the screen a card fills at 0.8 (either is right).
_NESTED_MAX = 0.6
_PARALLEL_COS = 0.94  # long edges within ~20 degrees
# A card shows at least this many text-line blobs at _ROWS_WIDTH px: tuned cards and the synth
# small-card frames showed 27-32, a KTP's photo box 0-4 (tuned sets, seed 4242; small.py seed 1).
_MIN_TEXT_ROWS = 12
# A chosen outline showing fewer rows than this may be a monitor or page holding the card: its
# form fields and menu lines give 9-12 rows. Tuned cards' own outlines showed 22-33 (seeds 4242
# and 5151, every level and tuned cross-style set; the hard level's blurred cards the fewest).
_CARD_ROWS = 20
_ROWS_WIDTH = 500
# Outlines searched inwards from one that shows few rows: a bezel, the screen, the page's body.
_INSIDE_DEPTH = 3
# Px of a rectified holder's border (on the search copy) cleared before its inside is searched: its
# own edge and the card's, closed together by the masks' 9 px closing, made one contour.
_HOLDER_EDGE = 6
_SAME_OUTLINE = 0.9  # an outline covering this much of the crop is the crop's own outline again
_REFINE_BELOW = 0.12  # cards covering less of the frame get their corners searched again on a crop
_REFINE_PAD = 0.25  # the crop's margin around the card, per side, in card sizes


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


@dataclass(frozen=True)
class Candidate:
    """A card-shaped outline: corners in the searched image's pixels and what it was scored on."""

    quad: np.ndarray
    score: float
    share: float  # of the frame's area
    fill: float  # contour area over quad area (1 = a clean rectangle)
    aspect: float
    touching: int  # frame edges it reaches

    @property
    def card_like(self) -> bool:
        """A clean rectangle of the ID-1 shape clear of the frame's edges: a card, not a page or panel."""
        return self.touching == 0 and self.fill >= _CARD_LIKE_FILL and abs(self.aspect - CARD_ASPECT) <= _CARD_LIKE_ASPECT


def _masks(small: np.ndarray) -> list[np.ndarray]:
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    masks = [_background_mask(small)]
    for low, high in ((30, 90), (10, 40)):
        masks.append(cv2.dilate(cv2.Canny(grey, low, high), np.ones((5, 5), np.uint8)))
    saturation = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1], (5, 5), 0)
    for channel in (grey, saturation):
        _, otsu = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        masks.extend([otsu, 255 - otsu])
    return masks


def _quad_size(quad: np.ndarray) -> tuple[float, float]:
    """Mean width (top and bottom edges) and height (left and right edges) of a TL, TR, BR, BL quad."""
    width = (np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / 2
    height = (np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    return float(width), float(height)


def _candidate(contour: np.ndarray, frame_w: int, frame_h: int) -> Candidate | None:
    area = cv2.contourArea(contour)
    frame_area = frame_h * frame_w
    if not MIN_CARD_SHARE * frame_area <= area <= 0.97 * frame_area:
        return None
    hull = cv2.convexHull(contour)
    approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(approx) != 4:
        approx = cv2.boxPoints(cv2.minAreaRect(hull))
    quad = _order_corners(np.asarray(approx, dtype=np.float32))
    quad_area = cv2.contourArea(quad)
    if quad_area <= 0:
        return None
    fill = min(area / quad_area, quad_area / area)
    width, height = _quad_size(quad)
    if height <= 0 or fill < 0.8:
        return None
    aspect = width / height
    if not 1.3 <= aspect <= 1.9:
        return None
    xs, ys = quad[:, 0], quad[:, 1]
    edges = (xs.min() < 3, ys.min() < 3, xs.max() > frame_w - 4, ys.max() > frame_h - 4)
    if all(edges):
        return None  # the whole frame
    touching = sum(edges)
    score = area * fill * (1.0 - min(0.5, abs(aspect - CARD_ASPECT)))
    if touching >= 2:
        score *= 0.5  # more likely vignetting or the table than the card itself
    return Candidate(quad, score, area / frame_area, fill, aspect, touching)


def _quad_candidates(image: np.ndarray, blank_border: int = 0) -> list[Candidate]:
    """Card-shaped outlines, best first, found on a copy at most _SEARCH_SIDE px (corners in ``image`` px).

    ``blank_border``: px of that copy's border cleared in every mask (a rectified outline's own
    edge lies there, and a card close to it would merge with it).
    """
    scale = min(1.0, _SEARCH_SIDE / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    frame_h, frame_w = small.shape[:2]
    found = []
    for mask in _masks(small):
        if blank_border:
            mask[:blank_border], mask[-blank_border:], mask[:, :blank_border], mask[:, -blank_border:] = 0, 0, 0, 0
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        # Every contour, not only the outermost: a card shown on a monitor or a page lies inside
        # the screen's outline. A small card is rarely among the few largest: look further down.
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:_CONTOURS_PER_MASK]:
            candidate = _candidate(contour, frame_w, frame_h)
            if candidate is not None:
                found.append(replace(candidate, quad=candidate.quad / scale))
    found.sort(key=lambda c: c.score, reverse=True)
    return found


def _inside(inner: np.ndarray, outer: np.ndarray) -> bool:
    contour = outer.reshape(-1, 1, 2).astype(np.float32)
    return all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -2 for x, y in inner)


def _parallel(a: np.ndarray, b: np.ndarray) -> bool:
    """The two outlines' long edges (the top, after _order_corners) point the same way."""
    u, v = a[1] - a[0], b[1] - b[0]
    return abs(float(np.dot(u, v))) >= _PARALLEL_COS * float(np.linalg.norm(u) * np.linalg.norm(v))


def text_rows(image: np.ndarray, quad: np.ndarray) -> int:
    """Text-line blobs on the outline's content, warped to a 500 px card (a KTP front shows 25-32)."""
    width, height = _ROWS_WIDTH, round(_ROWS_WIDTH / CARD_ASPECT)
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    grey = cv2.cvtColor(cv2.warpPerspective(image, matrix, (width, height)), cv2.COLOR_BGR2GRAY)
    strokes = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    _, ink = cv2.threshold(strokes, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    blobs = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rows = 0
    for contour in contours:
        _, _, w, h = cv2.boundingRect(contour)
        rows += w >= 25 and 3 <= h <= 20 and w >= 3 * h
    return rows


RowCounter = Callable[[Candidate], int]


def _row_counter(image: np.ndarray) -> RowCounter:
    """The text rows an outline on ``image`` shows, counted once per outline (several masks give
    the same one)."""
    counted: dict[tuple, int] = {}

    def rows(candidate: Candidate) -> int:
        key = tuple(np.round(candidate.quad / 4).astype(int).ravel())
        if key not in counted:
            counted[key] = text_rows(image, candidate.quad)
        return counted[key]

    return rows


def _choose(candidates: list[Candidate], rows: RowCounter) -> Candidate | None:
    """The best outline, unless it holds a card-like outline with text rows, lying the same way and
    covering at most _NESTED_MAX of it: then that one (and so on inwards).

    A screenshot's page body or a monitor outscores the small card on it on area alone. A part of
    a card that a mask cut out with the card's aspect covers more of it than _NESTED_MAX (it must
    lose a quarter of both sides to do less). Any outline under the old 12 % floor must show rows
    too: a KTP's photo box with its signature (the card's aspect standing up) shows a few at most.
    """
    def has_rows(candidate: Candidate) -> bool:
        return rows(candidate) >= _MIN_TEXT_ROWS

    for best in candidates:
        if best.share < _REFINE_BELOW and not has_rows(best):
            continue
        while True:
            held = next((c for c in candidates if c.card_like and c.share <= _NESTED_MAX * best.share
                         and _parallel(c.quad, best.quad) and _inside(c.quad, best.quad) and has_rows(c)), None)
            if held is None:
                break
            best = held
        return best
    return None


def _refine(image: np.ndarray, chosen: Candidate) -> np.ndarray:
    """A small card's corners searched again on a crop around it, at the search's full resolution.

    On the frame's 640 px copy a card covering a few percent is ~100 px wide: a pixel there is
    several in the photo. The crop holds the card and a margin of its surroundings.
    """
    quad = chosen.quad
    height, width = image.shape[:2]
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    pad_x, pad_y = (x1 - x0) * _REFINE_PAD, (y1 - y0) * _REFINE_PAD
    left, top = int(max(0, x0 - pad_x)), int(max(0, y0 - pad_y))
    right, bottom = int(min(width, x1 + pad_x + 1)), int(min(height, y1 + pad_y + 1))
    crop = image[top:bottom, left:right]
    expected = cv2.contourArea(quad.astype(np.float32))
    for candidate in _quad_candidates(crop):
        found = candidate.quad + np.float32([left, top])
        if 0.8 <= cv2.contourArea(found) / expected <= 1.25 and _inside(found, _grown(quad, 0.1)):
            return found
    return quad


def _rectified(image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outline's content warped to an upright rectangle at its own size, and the matrix back.

    Searched inside, a rectified crop's border is the outline's own content (the screen, the
    page), not the bezel's or the desk's corners an axis-aligned crop of a tilted outline keeps:
    the background mask compares with that border's colour.
    """
    width, height = (max(2, round(side)) for side in _quad_size(quad))
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, np.linalg.inv(matrix)


def _card_inside(image: np.ndarray, outline: Candidate, outline_rows: int) -> Candidate | None:
    """A card searched for inside an outline that shows too few text rows to be one itself.

    A monitor or a page photographed with a small card on it: inside the whole photo the card's
    contour is not among the largest, inside the screen's crop it is, and the screen's colour
    becomes the border colour the background mask compares with. A crop may first show the screen
    inside the bezel, then the page's body: each is searched in turn (at most _INSIDE_DEPTH). An
    inner outline is the card when it shows the rows of one and more than the outline it lies in
    (a bezel's page shows some: its form fields).
    """
    frame_area = image.shape[0] * image.shape[1]
    quad = outline.quad
    for _ in range(_INSIDE_DEPTH):
        crop, back = _rectified(image, quad)
        if min(crop.shape[:2]) < 32:
            return None
        rows = _row_counter(crop)
        # The crop's own outline again (within the cleared border) is not an inner one.
        inner = _choose([c for c in _quad_candidates(crop, blank_border=_HOLDER_EDGE) if c.share <= _SAME_OUTLINE], rows)
        if inner is None:
            return None
        found = cv2.perspectiveTransform(inner.quad.reshape(-1, 1, 2).astype(np.float32), back).reshape(4, 2)
        if rows(inner) >= _MIN_TEXT_ROWS and rows(inner) > outline_rows:
            return replace(inner, quad=found, share=cv2.contourArea(found) / frame_area)
        quad = found
    return None


def _card_elsewhere(candidates: list[Candidate], rows: RowCounter, chosen_rows: int) -> Candidate | None:
    """The best card-like outline showing a card's rows, when the chosen one shows few and holds none.

    A desk photo's wood grain or shadow can cut out a larger region (touching the frame's edges,
    no text) that outscores a small card lying beside it, not inside it.
    """
    return next((c for c in candidates if c.card_like and rows(c) >= _CARD_ROWS and rows(c) > chosen_rows), None)


def _grown(quad: np.ndarray, share: float) -> np.ndarray:
    centre = quad.mean(axis=0)
    return centre + (quad - centre) * (1 + share)


def find_card(image: np.ndarray) -> np.ndarray | None:
    """The card's corners (TL, TR, BR, BL) in image pixels, or None when it fills the frame / is not found."""
    rows = _row_counter(image)
    candidates = _quad_candidates(image)
    chosen = _choose(candidates, rows)
    if chosen is None:
        return None
    chosen_rows = rows(chosen)
    if chosen_rows < _CARD_ROWS:
        chosen = _card_inside(image, chosen, chosen_rows) or _card_elsewhere(candidates, rows, chosen_rows) or chosen
    if chosen.share < _REFINE_BELOW and max(image.shape[:2]) > _SEARCH_SIDE:
        return _refine(image, chosen)
    return chosen.quad


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
    width, _ = _quad_size(quad)
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
