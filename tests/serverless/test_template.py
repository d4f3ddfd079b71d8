"""The serverless infrastructure template: cfn-lint (with the SAM transform) and drift checks against
the code it deploys (DynamoDB key schema, settings names, Lambda entry points)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from config.settings import Settings
from feedback.dynamodb_tables import table_definitions

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "serverless" / "template.yaml"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


@pytest.fixture(scope="module")
def text() -> str:
    return TEMPLATE.read_text()


def _cfnlint():
    # Imported by the tests that use it, not at collection: cfn-lint pulls sympy and networkx (~20 s of CPU
    # on a loaded machine), which every xdist worker would pay while collecting.
    pytest.importorskip("samtranslator")  # cfn-lint needs it to expand AWS::Serverless resources
    return pytest.importorskip("cfnlint.api")


@pytest.fixture(scope="module")
def template(text) -> dict:
    _cfnlint()
    from cfnlint.decode import decode_str

    parsed, problems = decode_str(text)
    assert not problems, problems
    return parsed


def _lint(source: str) -> list[str]:
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in _cfnlint().lint(source, regions=REGIONS)]


def test_cfn_lint_passes(text):
    assert _lint(text) == []


def test_cfn_lint_catches_a_broken_template(text):
    broken = text.replace("MemorySize: 3008", "MemorySize: lots", 1)
    assert any("lots" in problem for problem in _lint(broken))


def test_tables_match_the_dynamodb_store(template):
    resources = template["Resources"]
    declared = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            props = resource["Properties"]
            name = props["TableName"]["Fn::Sub"].replace("${TablePrefix}", "docent")
            declared[name] = props
    expected = {d["TableName"]: d for d in table_definitions("docent")}
    assert set(declared) == set(expected)
    for name, want in expected.items():
        got = declared[name]
        assert got["KeySchema"] == want["KeySchema"], name
        assert sorted(got["AttributeDefinitions"], key=str) == sorted(want["AttributeDefinitions"], key=str), name
        assert got.get("GlobalSecondaryIndexes", []) == want.get("GlobalSecondaryIndexes", []), name
        assert got["BillingMode"] == want["BillingMode"]


def test_every_docent_variable_is_a_setting(template):
    names = set()
    blocks = [template["Globals"]["Function"]["Environment"]["Variables"]]
    blocks += [
        r["Properties"].get("Environment", {}).get("Variables", {})
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    for block in blocks:
        names |= {k for k in block if k.startswith("DOCENT_")}
    fields = {f"DOCENT_{name.upper()}" for name in Settings.model_fields}
    assert names and names <= fields, sorted(names - fields)


def test_each_function_starts_with_valid_settings(template, tmp_path):
    """The functions' literal DOCENT_* values pass Settings' start-up checks; a parameter or an
    intrinsic (!Ref, !If, !GetAtt) gets a plausible stand-in."""
    stand_ins = {
        "opensearch_url": "https://abc.eu-west-1.aoss.amazonaws.com",
        "aws_region": "eu-west-1",
        "embeddings_backend": "local",
        "llm_backend": "extractive",
    }
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        variables = shared | resource["Properties"].get("Environment", {}).get("Variables", {})
        values = {}
        for key, value in variables.items():
            field = key.removeprefix("DOCENT_").lower()
            if isinstance(value, str):
                values[field] = value
            elif field in stand_ins:
                values[field] = stand_ins[field]
        Settings(**values | {"data_dir": tmp_path})  # raises ConfigError naming what is missing


def test_lambda_entry_points_exist(template):
    commands = [
        r["Properties"]["ImageConfig"]["Command"][0]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    assert sorted(commands) == ["serverless.api_handler.handler", "serverless.ingest_handler.handler"]
    for command in commands:
        module, _, name = command.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_opensearch_serverless_has_encryption_network_and_data_policies(template):
    resources = template["Resources"]
    kinds = {(r["Type"], r["Properties"].get("Type")) for r in resources.values()}
    assert ("AWS::OpenSearchServerless::SecurityPolicy", "encryption") in kinds
    assert ("AWS::OpenSearchServerless::SecurityPolicy", "network") in kinds
    assert ("AWS::OpenSearchServerless::AccessPolicy", "data") in kinds
    collection = next(r for r in resources.values() if r["Type"] == "AWS::OpenSearchServerless::Collection")
    assert collection["Properties"]["Type"] == "VECTORSEARCH"
    assert set(template["Parameters"]) >= {"SageMakerRagEndpoint", "SageMakerFinetunedEndpoint", "EmbeddingsEndpoint"}
