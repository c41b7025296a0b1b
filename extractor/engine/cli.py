"""`ktp extract IMAGE... [--json]`: run the engine on image files.

It reads images of any size; one under the contract's 720x480 (which the service rejects) is read
all the same and marked: ``below_contract_size`` in the JSON, a note in the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("extract", help="read KTP images with the built-in OCR engine")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--json", action="store_true", help="one JSON object per line (with an \"image\" key)")
    parser.add_argument("--show-nik", action="store_true", help="print the NIK unmasked")
    parser.set_defaults(func=run)


def below_contract_size(image: bytes) -> tuple[int, int] | None:
    """(width, height) when the image is smaller than the contract's 720x480, else None."""
    import cv2
    import numpy as np
    from ktp_pipeline.contract import MIN_LONG_SIDE, MIN_SHORT_SIDE  # the service's rule (service/images.py)

    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        return None
    height, width = decoded.shape[:2]
    if max(width, height) < MIN_LONG_SIDE or min(width, height) < MIN_SHORT_SIDE:
        return width, height
    return None


def _table(path: Path, result, small: tuple[int, int] | None = None) -> str:
    lines = [f"== {path}  (ktp_detected={result.ktp_detected}, engine={result.engine}, {result.seconds:.2f}s)"]
    if small:
        lines.append(f"  note: {small[0]}x{small[1]} px is below the contract's 720x480; the service would reject it")
    for name, reading in result.fields.items():
        lines.append(f"  {name:<24} {reading.value or '':<40} {reading.confidence:.2f}")
    quality = result.image_quality
    flags = ", ".join(f"{k}={v}" for k, v in quality.contract_flags().items())
    lines.append(f"  image_quality            {flags}")
    for check in result.checks:
        lines.append(f"  check {check.name:<18} {'ok' if check.ok else 'FAIL'}  {check.detail}")
    return "\n".join(lines)


def _masked(text: str, result) -> str:
    """The one masking path of the CLI (local/render.py): 16-digit runs, and the NIK as read even
    when it is not 16 digits long."""
    from local.render import mask_text

    reading = result.fields.get("nik")
    value = getattr(reading, "value", None) or ""
    return mask_text(text, known=(value,) if len(value) > 4 else ())


def run(args: argparse.Namespace) -> int:
    from extractor.engine import ImageDecodeError, extract, warm_up

    warm_up()
    status = 0
    for path in args.images:
        try:
            data = path.read_bytes()
            result = extract(data)
        except (OSError, ImageDecodeError) as exc:
            status = 1
            error = {"image": str(path), "error": type(exc).__name__, "message": str(exc)}
            print(json.dumps(error) if args.json else f"== {path}: {exc}", file=sys.stdout if args.json else sys.stderr)
            continue
        small = below_contract_size(data)
        if args.json:
            payload = {"image": str(path), "below_contract_size": small is not None, **result.model_dump(mode="json")}
            text = json.dumps(payload, ensure_ascii=False)
        else:
            text = _table(path, result, small)
        print(text if args.show_nik else _masked(text, result))
    return status
