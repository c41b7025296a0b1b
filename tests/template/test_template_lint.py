"""cfn-lint, with the serverless rules and informational checks, finds nothing in template.yaml.

The template silences exactly two serverless rules, per resource, each with its reason written next to
it in template.yaml. The second test proves both ignores are still needed, so none goes stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file
from template_tools import TEMPLATE_PATH, deep_copy

LINT_CONFIG = ManualArgs(
    append_rules=["cfn_lint_serverless.rules"],
    # The deploy region (samconfig.toml) plus the one cfn-lint's spec is most complete for.
    regions=["ap-southeast-3", "us-east-1"],
    include_checks=["I"],
)

# (rule, resource) pairs the template ignores, and why (the same reasons are comments in template.yaml).
DOCUMENTED_IGNORES = {
    ("WS1004", "SubmitFunction"): "log group is wired through LoggingConfig.LogGroup, which the rule does not read",
    ("WS1004", "CallbackFunction"): "same as SubmitFunction",
    ("WS1004", "PollerFunction"): "same as SubmitFunction",
    ("WS1004", "EraseFunction"): "same as SubmitFunction",
    ("ES6000", "SubmitFailureQueue"): "terminal on-failure destination; a redrive queue would only move the alarm",
    ("ES6000", "PollerDeadLetterQueue"): "terminal dead-letter queue of the schedule",
    ("ES6000", "CompletionEventsDeadLetterQueue"): "terminal dead-letter queue of the completion-events Pipe",
}


def _findings(path: Path) -> list[tuple[str, str, str]]:
    return [(m.rule.id, "/".join(str(p) for p in m.path[:2]), m.message) for m in lint_file(path, LINT_CONFIG)]


def test_cfn_lint_with_serverless_rules_reports_nothing():
    assert _findings(TEMPLATE_PATH) == []


def test_every_ignore_is_documented_and_still_needed(sam_template, tmp_path):
    ignored = {
        (rule, name)
        for name, resource in sam_template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
    }
    assert "cfn-lint" not in sam_template.get("Metadata", {}), "no template-wide ignores"
    assert ignored == set(DOCUMENTED_IGNORES)

    without_ignores = deep_copy(sam_template)
    for resource in without_ignores["Resources"].values():
        resource.get("Metadata", {}).pop("cfn-lint", None)
    stripped = tmp_path / "template-without-ignores.json"
    stripped.write_text(json.dumps(without_ignores), encoding="utf-8")
    found = {(rule, path.split("/")[1]) for rule, path, _ in _findings(stripped)}
    assert found == set(DOCUMENTED_IGNORES)
