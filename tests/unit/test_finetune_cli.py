"""`docent finetune ...` wiring: every option documented; deploy/undeploy round trip against moto."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.finetune import finetune_app
from finetune.train_config import config_fields

runner = CliRunner()


def test_train_help_lists_every_hyperparameter():
    result = runner.invoke(finetune_app, ["train", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for name, *_ in config_fields():
        assert "--" + name.replace("_", "-") in result.output
    assert "--config" in result.output


@pytest.mark.parametrize("command", ["deploy", "undeploy", "launch-training-job"])
def test_other_commands_have_help(command):
    result = runner.invoke(finetune_app, [command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "--region" in result.output


def test_train_refuses_unknown_values_without_a_traceback(tmp_path):
    result = runner.invoke(finetune_app, ["train", "--quantization", "8bit", "--data", "x.csv"])
    assert result.exit_code == 2
    assert "quantization='8bit' is not one of none, 4bit" in result.output


def test_aws_errors_are_reported_without_a_traceback(tmp_path, monkeypatch):
    from moto import mock_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        result = runner.invoke(finetune_app, ["undeploy", "--endpoint", "missing", "--region", "us-east-1"])
    assert result.exit_code == 2 and "endpoint 'missing' not found" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_deploy_refuses_an_adapter_only_directory(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    result = runner.invoke(
        finetune_app,
        [
            "deploy",
            "--model",
            str(tmp_path),
            "--endpoint",
            "e",
            "--role",
            "arn:r",
            "--bucket",
            "b",
            "--region",
            "us-east-1",
        ],
    )
    assert result.exit_code == 2 and "--merge" in result.output


def test_deploy_then_undeploy_round_trip_on_moto(tmp_path, monkeypatch):
    import boto3
    from moto import mock_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    model = tmp_path / "merged"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"num_attention_heads": 32}))
    (model / "model.safetensors").write_bytes(b"w")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="docent-models")
        result = runner.invoke(
            finetune_app,
            [
                # moto's instance-type list predates g5; ml.p3.2xlarge also has one GPU
                "deploy",
                "--model",
                str(model),
                "--endpoint",
                "docent-ft",
                "--region",
                "us-east-1",
                "--instance-type",
                "ml.p3.2xlarge",
                "--role",
                "arn:aws:iam::123456789012:role/docent-sagemaker",
                "--bucket",
                "docent-models",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "DOCENT_SAGEMAKER_FINETUNED_ENDPOINT=docent-ft" in result.output
        sm = boto3.client("sagemaker", region_name="us-east-1")
        config_name = sm.describe_endpoint(EndpointName="docent-ft")["EndpointConfigName"]
        model_name = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]["ModelName"]
        container = sm.describe_model(ModelName=model_name)["PrimaryContainer"]
        assert container["ModelDataUrl"] == "s3://docent-models/docent-ft/model.tar.gz"
        assert container["Environment"]["OPTION_TENSOR_PARALLEL_DEGREE"] == "1"
        keys = [
            o["Key"]
            for o in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="docent-models")["Contents"]
        ]
        assert keys == ["docent-ft/model.tar.gz"]

        result = runner.invoke(finetune_app, ["undeploy", "--endpoint", "docent-ft", "--region", "us-east-1"])
        assert result.exit_code == 0, result.output
        assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []
        assert sm.list_endpoint_configs()["EndpointConfigs"] == []
