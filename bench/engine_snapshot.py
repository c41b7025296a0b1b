"""Record what the engine makes of a fixed card set, to prove a refactor changed nothing.

    .venv/bin/python bench/engine_snapshot.py /tmp/set555 before.json --generate 555   # cards + snapshot
    (change the engine)
    .venv/bin/python bench/engine_snapshot.py /tmp/set555 after.json
    cmp before.json after.json

Per image: every field (value, raw text, confidence), the NIK checks, the quality flags, scores and
thresholds, the engine name, and how often each model was called (whole images, batches, crops).
Timings are left out. `--generate SEED` first writes 20 cards per level (clean, phone, hard) and 6
photos without a KTP. Use a tuning seed (docs/extractor-engine.md), never an evaluation set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _count_calls(model, label: str, calls: dict[str, int]) -> None:
    read, read_many = model.read, model.read_many

    def counted_read(image):
        calls[f"{label}.read"] = calls.get(f"{label}.read", 0) + 1
        return read(image)

    def counted_read_many(images):
        calls[f"{label}.read_many"] = calls.get(f"{label}.read_many", 0) + 1
        calls[f"{label}.crops"] = calls.get(f"{label}.crops", 0) + len(images)
        return read_many(images)

    model.read, model.read_many = counted_read, counted_read_many


def snapshot(data: Path) -> dict[str, dict]:
    from extractor.engine import extract, warm_up
    from extractor.engine.backends import models_of
    from extractor.engine.pipeline import get_backend

    warm_up()
    calls: dict[str, int] = {}
    models = models_of(get_backend())
    _count_calls(models.first, "first", calls)
    if models.stronger is not None:
        _count_calls(models.stronger, "stronger", calls)
    records = {}
    for image in sorted(data.rglob("*.jpg")):
        calls.clear()
        result = extract(image.read_bytes()).model_dump(mode="json")
        result.pop("seconds")
        result["calls"] = dict(calls)
        records[str(image.relative_to(data))] = result
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="directory of card images (*.jpg, searched recursively)")
    parser.add_argument("out", type=Path, help="JSON file to write")
    parser.add_argument("--generate", type=int, metavar="SEED", help="first generate the card set with this seed")
    args = parser.parse_args(argv)
    if args.generate is not None:
        from ocr_accuracy import generate

        generate(args.data, ("clean", "phone", "hard"), 20, args.generate, 6)
    records = snapshot(args.data)
    args.out.write_text(json.dumps(records, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    print(f"{len(records)} images -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
