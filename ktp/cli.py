"""`ktp` entry point.

Each sub-command lives in its own module exposing ``register(subparsers)``; the module must stay
cheap to import (heavy imports go inside the command's function) so `ktp --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# One line per command module; each registers one or more sub-commands.
COMMAND_MODULES = [
    "extractor.engine.cli",  # ktp extract
    "extractor.synth.cli",  # ktp synth
    "extractor.service.cli",  # ktp serve
    "local.cli",  # ktp up, demo, upload, status, results, watch
    "local.erase_cli",  # ktp erase
    "local.redrive_cli",  # ktp redrive
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ktp", description="KTP extraction: the built-in extractor, synthetic cards and the local pipeline."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C in any command: one line, the shell's 128 + SIGINT
        command = getattr(args, "command", None)
        print(f"ktp {command}: interrupted" if command else "ktp: interrupted", file=sys.stderr)
        return 130
