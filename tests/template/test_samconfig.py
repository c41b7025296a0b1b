"""samconfig.toml, read with the SAM CLI's own loader and parameter parser, deploys what the template accepts."""

from __future__ import annotations

import re

import pytest
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig
from template_tools import REPO_ROOT

ENVIRONMENTS = ("default", "staging", "prod")


@pytest.fixture(scope="module")
def samconfig() -> SamConfig:
    config = SamConfig(str(REPO_ROOT), "samconfig.toml")
    assert config.exists()
    assert config.sanity_check()
    return config


def _deploy(samconfig: SamConfig, env: str) -> dict:
    return samconfig.get_all(["deploy"], "parameters", env=env)


def _overrides(samconfig: SamConfig, env: str) -> dict[str, str]:
    return CfnParameterOverridesType().convert(_deploy(samconfig, env).get("parameter_overrides"), None, None)


def _accepts(spec: dict, value: str) -> bool:
    """CloudFormation's parameter constraints, for the kinds this template uses."""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if spec["Type"] == "Number":
        number = float(value)
        return spec.get("MinValue", number) <= number <= spec.get("MaxValue", number)
    return True


def test_three_environments(samconfig):
    assert set(ENVIRONMENTS) <= set(samconfig.get_stage_configuration_names())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_deploys_its_own_stack_in_jakarta(samconfig, env):
    deploy = _deploy(samconfig, env)
    assert deploy["region"] == "ap-southeast-3"
    # IAM for the functions' roles; AUTO_EXPAND for the nested extractor's own SAM transform (Provider=builtin).
    assert deploy["capabilities"].split() == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert deploy["resolve_s3"] is True
    assert deploy["stack_name"].endswith({"default": "-dev"}.get(env, f"-{env}"))


def test_stack_names_are_distinct(samconfig):
    names = [_deploy(samconfig, env)["stack_name"] for env in ENVIRONMENTS]
    assert len(set(names)) == len(names)


def test_only_prod_asks_before_executing_a_change_set(samconfig):
    assert _deploy(samconfig, "prod")["confirm_changeset"] is True
    assert _deploy(samconfig, "staging")["confirm_changeset"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overrides_name_template_parameters_with_acceptable_values(samconfig, sam_template, env):
    parameters = sam_template["Parameters"]
    overrides = _overrides(samconfig, env)
    assert overrides, env
    for name, value in overrides.items():
        assert name in parameters, f"{env}: unknown parameter {name}"
        if (env, name) == ("prod", "AlarmTopicArn"):
            continue  # deliberately unset, see the next test
        assert _accepts(parameters[name], value), f"{env}: {name}={value!r} violates the template's constraints"


def test_samconfig_shows_both_providers(samconfig):
    providers = {env: _overrides(samconfig, env).get("Provider") for env in ENVIRONMENTS}
    assert set(providers.values()) == {"builtin", "external"}, providers
    for env, provider in providers.items():
        if provider == "external":
            assert _overrides(samconfig, env)["ProviderBaseUrl"].startswith("https://"), env


def test_prod_refuses_to_deploy_until_an_alarm_topic_is_set(samconfig, sam_template):
    value = _overrides(samconfig, "prod")["AlarmTopicArn"]
    assert not _accepts(sam_template["Parameters"]["AlarmTopicArn"], value)
    assert _accepts(sam_template["Parameters"]["AlarmTopicArn"], "arn:aws:sns:ap-southeast-3:123456789012:ktp-alarms")


def test_prod_keeps_images_shortest_and_throttles_highest(samconfig, sam_template):
    def effective(env: str, name: str) -> float:
        return float(_overrides(samconfig, env).get(name, sam_template["Parameters"][name]["Default"]))

    assert effective("prod", "ImageRetentionDays") <= min(effective(e, "ImageRetentionDays") for e in ENVIRONMENTS)
    for limit in ("CallbackThrottlingRateLimit", "CallbackThrottlingBurstLimit"):
        assert effective("prod", limit) >= max(effective(e, limit) for e in ENVIRONMENTS)
    assert _overrides(samconfig, "prod")["TableDeletionProtection"] == "true"
