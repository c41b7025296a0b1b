"""What ships runs the versions the tests ran with: every pin of the pipeline layer and of the
serverless extractor's OCR worker is pinned identically for development."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from template_tools import REPO_ROOT

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "pipeline" / "requirements.txt"
OCR_WORKER_REQUIREMENTS = REPO_ROOT / "serverless_extractor" / "functions" / "ocr_worker" / "requirements.txt"
EXTRACTOR_LAYER_REQUIREMENTS = REPO_ROOT / "serverless_extractor" / "layers" / "extractor_code" / "requirements.txt"
DEV_REQUIREMENTS = REPO_ROOT / "requirements-dev.txt"
SHIPPED = pytest.mark.parametrize(
    "shipped", [LAYER_REQUIREMENTS, OCR_WORKER_REQUIREMENTS, EXTRACTOR_LAYER_REQUIREMENTS],
    ids=["layer", "ocr-worker", "extractor-layer"],
)


def _requirements(path: Path) -> dict[str, Requirement]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _exact_version(requirement: Requirement) -> str | None:
    specifiers = list(requirement.specifier)
    if len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version:
        return specifiers[0].version
    return None


@SHIPPED
def test_shipped_requirements_are_exact_pins(shipped):
    pins = _requirements(shipped)
    assert pins, f"{shipped} has no requirements"
    for name, requirement in pins.items():
        assert _exact_version(requirement), f"{name} is not pinned with == in {shipped}"


@SHIPPED
def test_every_shipped_pin_has_the_same_version_and_extras_in_requirements_dev(shipped):
    dev = _requirements(DEV_REQUIREMENTS)
    for name, requirement in _requirements(shipped).items():
        assert name in dev, f"{name} is in {shipped} but not in requirements-dev.txt"
        assert _exact_version(dev[name]) == _exact_version(requirement), (
            f"{name}: {shipped.parent.name} {requirement.specifier} vs requirements-dev.txt {dev[name].specifier}"
        )
        # Extras pull in code too (e.g. powertools[tracer] -> aws-xray-sdk); tests must have it as well.
        assert requirement.extras <= dev[name].extras, f"{name}: extras {sorted(requirement.extras - dev[name].extras)}"
