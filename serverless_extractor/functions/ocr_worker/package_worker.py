"""Finish the OCR worker's package after pip: add the worker's code, trim what is safe, byte-compile.

Run by the Makefile beside it (``sam build``) with the artifacts folder as its only argument.
Byte-compiling matters here: Lambda's code folder is read-only, so without shipped .pyc files
every cold start would compile numpy and the engine again. It must run on CPython 3.13, the
runtime's version, or the .pyc files would be ignored.
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# (source folder or file in the repository, destination inside the package)
SOURCES: tuple[tuple[str, str], ...] = (
    # The thin handler (Handler: app.lambda_handler) and the code behind it.
    ("serverless_extractor/functions/ocr_worker/app.py", "app.py"),
    ("extractor/__init__.py", "extractor/__init__.py"),
    ("extractor/result.py", "extractor/result.py"),
    ("extractor/engine", "extractor/engine"),
    ("extractor/serverless", "extractor/serverless"),
    # Storage adapters, outcomes, results, error codes: shared with `ktp serve`. Only the modules the
    # worker imports run; fastapi/PIL-importing ones are never imported here.
    ("extractor/service", "extractor/service"),
    # The contract constants (signatures, size limits) are the pipeline's, one module for both.
    ("layers/pipeline/ktp_pipeline", "ktp_pipeline"),
)

# Folders no import at run time reaches: numpy's own test suites (only numpy.test() reads them).
TRIMMED_DIRS: tuple[str, ...] = ("numpy/**/tests",)


def copy_sources(artifacts: Path) -> None:
    for source, destination in SOURCES:
        origin = REPO / source
        if not origin.exists():
            continue  # the handler and extractor/serverless/ arrive with the serverless extractor's branch
        target = artifacts / destination
        if origin.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
            continue
        for path in origin.rglob("*.py"):
            relative = path.relative_to(origin)
            if "tests" in relative.parts or "__pycache__" in relative.parts:
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


def trim(artifacts: Path) -> None:
    for pattern in TRIMMED_DIRS:
        for folder in sorted(artifacts.glob(pattern), reverse=True):
            if folder.is_dir():
                shutil.rmtree(folder)
    for cache in artifacts.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def byte_compile(artifacts: Path) -> None:
    if sys.version_info[:2] != (3, 13):
        raise SystemExit(f"package_worker.py must run on CPython 3.13 (the runtime), not {sys.version.split()[0]}")
    # unchecked-hash: the zip does not keep source mtimes exactly, and the code never changes in place.
    ok = compileall.compile_dir(
        artifacts, quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    if not ok:
        raise SystemExit("byte-compiling the OCR worker package failed")


def main(argv: list[str]) -> None:
    (artifacts_dir,) = argv
    artifacts = Path(artifacts_dir)
    copy_sources(artifacts)
    trim(artifacts)
    byte_compile(artifacts)


if __name__ == "__main__":
    main(sys.argv[1:])
