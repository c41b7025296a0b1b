"""`ktp synth N --out DIR --level clean|phone|hard [--seed S]` or `--style-set SET [--group G]`: cards + truth JSON."""

from __future__ import annotations

import argparse
import sys

from extractor.synth import LEVEL_NAMES


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic KTP images with ground-truth JSON",
        description="Write N synthetic KTP front sides (<stem>.jpg) and their ground truth (<stem>.json).",
    )
    parser.add_argument("n", type=_positive, help="number of cards")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--level", choices=LEVEL_NAMES, default="clean", help="degradation level (default clean)")
    parser.add_argument("--seed", type=_non_negative, default=0, help="batch seed; same seed, same cards (default 0)")
    parser.add_argument("--style-set", choices=("xs-flat", "xs-frame", "xs-phone", "xs-copy", "xs-small"),
                        help="write cross-style cards of this set instead of a level (extractor/synth/styles.py)")
    parser.add_argument("--group", choices=("tuned", "held-out"), default="tuned",
                        help="with --style-set: which half of every style axis to draw from (default tuned)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.style_set:
        from extractor.synth.styles import write_styled_cards

        paths = write_styled_cards(args.n, args.out, args.style_set, args.group, args.seed)
        print(f"wrote {len(paths)} {args.style_set} {args.group} cards to {args.out}", file=sys.stderr)
        return 0
    from extractor.synth.cards import write_cards

    paths = write_cards(args.n, args.out, args.level, args.seed)
    print(f"wrote {len(paths)} {args.level} cards to {args.out}", file=sys.stderr)
    return 0
