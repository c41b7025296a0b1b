"""The layer ships the versions the tests ran with: every layer pin is pinned identically for development."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from template_tools import REPO_ROOT

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "pipeline" / "requirements.txt"
DEV_REQUIREMENTS = REPO_ROOT / "requirements-dev.txt"


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


def test_layer_requirements_are_exact_pins():
    layer = _requirements(LAYER_REQUIREMENTS)
    assert layer, "the layer has no requirements"
    for name, requirement in layer.items():
        assert _exact_version(requirement), f"{name} is not pinned with == in {LAYER_REQUIREMENTS.name}"


def test_every_layer_pin_has_the_same_version_and_extras_in_requirements_dev():
    dev = _requirements(DEV_REQUIREMENTS)
    for name, requirement in _requirements(LAYER_REQUIREMENTS).items():
        assert name in dev, f"{name} is in the layer but not in requirements-dev.txt"
        assert _exact_version(dev[name]) == _exact_version(requirement), (
            f"{name}: layer {requirement.specifier} vs requirements-dev.txt {dev[name].specifier}"
        )
        # Extras pull in code too (e.g. powertools[tracer] -> aws-xray-sdk); tests must have it as well.
        assert requirement.extras <= dev[name].extras, f"{name}: extras {sorted(requirement.extras - dev[name].extras)}"
