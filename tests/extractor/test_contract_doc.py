"""docs/provider-contract.md is the contract the code cites; it names what the code implements."""

from __future__ import annotations

import subprocess
from pathlib import Path

from extractor.engine import vocabulary
from extractor.result import CONTRACT_FIELDS
from extractor.service import sandbox
from extractor.service.errors import ErrorCode, JobErrorCode
from extractor.service.results import STATUS_BILLED, STATUS_NOT_BILLED, STATUS_PENDING

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "provider-contract.md").read_text(encoding="utf-8")
# Codes of our own service, documented in docs/extractor-service.md instead.
SERVICE_ONLY = {ErrorCode.NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED}


def test_every_contract_field_is_documented():
    missing = [name for name in CONTRACT_FIELDS if f'"{name}"' not in DOC]
    assert missing == []


def test_every_contract_error_code_is_documented():
    codes = [code.value for code in (*ErrorCode, *JobErrorCode) if code not in SERVICE_ONLY]
    missing = [code for code in codes if f"`{code}`" not in DOC]
    assert missing == []


def test_every_sandbox_code_and_our_status_codes_are_documented():
    codes = [*sandbox.QUALITY_CODES, sandbox.NO_KTP, sandbox.SIZE_EXCEEDED, sandbox.REFERENCE_VALID, *sandbox.REFERENCE_CODES]
    codes += [STATUS_BILLED, STATUS_NOT_BILLED, STATUS_PENDING]
    missing = [code for code in codes if f"`{code}`" not in DOC]
    assert missing == []


def test_the_closed_value_sets_are_documented():
    values = [*vocabulary.GENDERS, *vocabulary.BLOOD_TYPES, *vocabulary.RELIGIONS, *vocabulary.MARITAL_STATUSES]
    values += [*vocabulary.NATIONALITIES, *vocabulary.VALID_UNTIL]
    missing = [value for value in values if f"`{value}`" not in DOC]
    assert missing == []


def test_nothing_cites_a_reference_file_outside_the_repository():
    outside = ("shared/" + "reference", "ktp-" + "facts.md")  # spelled apart so this file does not match
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    citing = []
    for name in tracked:
        path = REPO / name
        if path.suffix not in (".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".json") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if any(citation in text for citation in outside):
            citing.append(name)
    assert citing == []
