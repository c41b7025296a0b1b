"""`ktp extract IMAGE... [--json]`: run the engine on image files."""

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


def _table(path: Path, result) -> str:
    lines = [f"== {path}  (ktp_detected={result.ktp_detected}, engine={result.engine}, {result.seconds:.2f}s)"]
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
            result = extract(path.read_bytes())
        except (OSError, ImageDecodeError) as exc:
            status = 1
            error = {"image": str(path), "error": type(exc).__name__, "message": str(exc)}
            print(json.dumps(error) if args.json else f"== {path}: {exc}", file=sys.stdout if args.json else sys.stderr)
            continue
        if args.json:
            text = json.dumps({"image": str(path), **result.model_dump(mode="json")}, ensure_ascii=False)
        else:
            text = _table(path, result)
        print(text if args.show_nik else _masked(text, result))
    return status
