"""The SageMaker training-job launcher: request shape, source tarball, hyperparameters the script can parse."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from botocore.stub import Stubber

from finetune.train import config_from_argv
from finetune.train_config import TrainConfig
from finetune.training_job import ENTRY_POINT, launch_training_job, source_tarball, training_job_request

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/docent-sagemaker"
TRAINING_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:"
    "2.5.1-transformers4.49.0-gpu-py311-cu124-ubuntu22.04"
)


def toolkit_argv(hyperparameters: dict[str, str]) -> list[str]:
    """What the sagemaker-training toolkit passes the entry point: JSON-decoded values as --key value."""
    argv = []
    for key, value in hyperparameters.items():
        if key.startswith("sagemaker_"):
            continue
        argv += [f"--{key}", str(json.loads(value))]
    return argv


def test_request_shape():
    config = TrainConfig(merge=True, lora_r=8, num_epochs=2)
    request = training_job_request(
        job_name="docent-ft-1",
        role_arn=ROLE,
        region=REGION,
        source_url="s3://b/docent-ft-1/source/sourcedir.tar.gz",
        data_url="s3://b/docent-ft-1/data/",
        output_url="s3://b/docent-ft-1/output/",
        config=config,
    )
    assert request["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert request["ResourceConfig"] == {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100}
    assert request["InputDataConfig"][0]["ChannelName"] == "train"
    hp = request["HyperParameters"]
    assert json.loads(hp["sagemaker_program"]) == ENTRY_POINT == "finetune/train.py"
    assert json.loads(hp["sagemaker_submit_directory"]) == "s3://b/docent-ft-1/source/sourcedir.tar.gz"
    assert json.loads(hp["lora_r"]) == 8 and json.loads(hp["merge"]) is True
    assert "data" not in hp and "output_dir" not in hp
    assert all(isinstance(v, str) for v in hp.values())


def test_hyperparameters_round_trip_through_the_entry_point_parser(tmp_path, monkeypatch):
    channel, model_dir = tmp_path / "train", tmp_path / "model"
    channel.mkdir()
    (channel / "qa.csv").write_text("instruction,response\nQ?,A.\n")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channel))
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    config = TrainConfig(
        merge=True, lora_r=8, learning_rate=1e-4, target_modules=["q_proj", "v_proj"], quantization="4bit"
    )
    request = training_job_request(
        job_name="j",
        role_arn=ROLE,
        region=REGION,
        source_url="s3://b/s.tar.gz",
        data_url="s3://b/d/",
        output_url="s3://b/o/",
        config=config,
    )
    parsed = config_from_argv(toolkit_argv(request["HyperParameters"]))
    expected = TrainConfig(**{**config.__dict__, "data": str(channel / "qa.csv"), "output_dir": str(model_dir)})
    assert parsed == expected


def test_source_tarball_holds_the_package_and_requirements():
    with tarfile.open(fileobj=io.BytesIO(source_tarball())) as archive:
        names = set(archive.getnames())
        requirements = archive.extractfile("requirements.txt").read().decode()
    assert {
        "finetune/train.py",
        "feedback/qa_file.py",
        "finetune/train_config.py",
        "finetune/evaluate.py",
        "feedback/__init__.py",
    } <= names
    assert "trl==1.16.0" in requirements and "peft" in requirements


def test_launch_uploads_then_creates_the_job(tmp_path):
    from moto import mock_aws

    data = tmp_path / "qa.csv"
    data.write_text("instruction,response\nQ?,A.\n")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="docent-bucket")
        sm = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
        expected = training_job_request(
            job_name="docent-ft-1",
            role_arn=ROLE,
            region=REGION,
            source_url="s3://docent-bucket/docent-ft-1/source/sourcedir.tar.gz",
            data_url="s3://docent-bucket/docent-ft-1/data/",
            output_url="s3://docent-bucket/docent-ft-1/output/",
            config=TrainConfig(),
        )
        arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/docent-ft-1"
        with Stubber(sm) as stub:
            stub.add_response("create_training_job", {"TrainingJobArn": arn}, expected)
            response = launch_training_job(
                job_name="docent-ft-1",
                data_file=data,
                bucket="docent-bucket",
                role_arn=ROLE,
                region=REGION,
                config=TrainConfig(),
                sagemaker=sm,
                s3=s3,
                echo=lambda _: None,
            )
            stub.assert_no_pending_responses()
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="docent-bucket")["Contents"])
    assert response["TrainingJobArn"] == arn
    assert keys == ["docent-ft-1/data/qa.csv", "docent-ft-1/source/sourcedir.tar.gz"]


def test_launch_refuses_a_missing_data_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        launch_training_job(
            job_name="j",
            data_file=tmp_path / "none.csv",
            bucket="b",
            role_arn=ROLE,
            region=REGION,
            config=TrainConfig(),
            sagemaker=object(),
            s3=object(),
        )


def test_entry_point_runs_as_a_script_from_the_unpacked_source(tmp_path):
    """SageMaker runs `python finetune/train.py ...` from the unpacked sourcedir, not as an installed package."""
    import subprocess
    import sys

    with tarfile.open(fileobj=io.BytesIO(source_tarball())) as archive:
        archive.extractall(tmp_path, filter="data")
    # -S: no site-packages, so `finetune` can only come from the unpacked source
    result = subprocess.run(
        [sys.executable, "-S", ENTRY_POINT, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--lora_r" in result.stdout and "--lora-r" in result.stdout
