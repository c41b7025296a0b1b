"""Fixtures for the template tests: the raw SAM template and its offline translation (built once)."""

from __future__ import annotations

from typing import Any

import pytest
from template_tools import IntrinsicEvaluator, load_sam_template, translate


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_sam_template()


@pytest.fixture(scope="session")
def cfn() -> dict[str, Any]:
    """template.yaml after the SAM transform, with default parameter values."""
    return translate()


@pytest.fixture(scope="session")
def resources(cfn: dict[str, Any]) -> dict[str, Any]:
    return cfn["Resources"]


@pytest.fixture(scope="session")
def evaluator(cfn: dict[str, Any]) -> IntrinsicEvaluator:
    """Evaluates the translated template's intrinsics with default parameters and fake pseudo parameters."""
    return IntrinsicEvaluator(cfn)
