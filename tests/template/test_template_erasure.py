"""Erasure wiring: the sparse NIK-hash index projects no personal data, its key is a generated
secret only the functions that store results or erase can read, and the erase function exists."""

from __future__ import annotations

from ktp_pipeline.erasure import PERSONAL_ATTRIBUTES
from ktp_pipeline.nik_hash import BY_NIK_HASH_INDEX, NIK_HASH_ATTRIBUTE

PERSONAL = {*PERSONAL_ATTRIBUTES, "nik", "fields", "raw_text", "extra"}


def test_nik_hash_index_is_keys_only_on_the_hash(resources):
    properties = resources["JobsTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    index = indexes[BY_NIK_HASH_INDEX]
    assert index["KeySchema"] == [{"AttributeName": NIK_HASH_ATTRIBUTE, "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    assert types[NIK_HASH_ATTRIBUTE] == "S"


def test_no_index_projects_a_personal_attribute(resources):
    for index in resources["JobsTable"]["Properties"]["GlobalSecondaryIndexes"]:
        projection = index["Projection"]
        if index["IndexName"] == "pending-by-next-check":
            continue  # ALL, but sparse: terminal writes remove its keys before a result is stored
        assert projection["ProjectionType"] != "ALL", index["IndexName"]
        assert not set(projection.get("NonKeyAttributes", [])) & PERSONAL, index["IndexName"]


def test_the_hmac_key_is_generated_and_kept(resources):
    secret = resources["NikHashSecret"]
    assert secret["DeletionPolicy"] == "Retain"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "key"
    assert generated["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]


def test_only_result_writers_and_the_eraser_read_the_key(resources):
    readers = set()
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement.get("Resource") == {"Ref": "NikHashSecret"}:
                    readers.add(name)
    assert readers == {"CallbackFunctionRole", "PollerFunctionRole", "EraseFunctionRole"}


def test_erase_function_is_an_output_and_runs_the_erase_handler(resources, sam_template):
    function = sam_template["Resources"]["EraseFunction"]["Properties"]
    assert function["CodeUri"] == "functions/erase/"
    assert function["Handler"] == "app.lambda_handler"
    assert sam_template["Outputs"]["EraseFunctionName"]["Value"] == {"Ref": "EraseFunction"}
