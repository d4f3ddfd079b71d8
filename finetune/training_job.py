"""Run `finetune/train.py` as a SageMaker training job on the Hugging Face PyTorch training image.

The job's source is a tarball of this package (``finetune/*.py`` plus a ``requirements.txt`` the
container installs); the entry point is ``finetune/train.py``; hyperparameters are the
``TrainConfig`` fields (``data`` and ``output_dir`` come from the job's ``train`` channel and
``/opt/ml/model``). SageMaker uploads ``/opt/ml/model`` as ``model.tar.gz`` under the output path,
which ``docent finetune deploy --model s3://...`` accepts when trained with ``merge: true``.

Example::

    from finetune.training_job import training_job_request
    from finetune.train_config import TrainConfig

    request = training_job_request(
        job_name="docent-ft-1", role_arn="arn:aws:iam::123456789012:role/sm", region="eu-west-1",
        source_url="s3://b/docent-ft-1/source/sourcedir.tar.gz", data_url="s3://b/docent-ft-1/data/",
        output_url="s3://b/docent-ft-1/output/", config=TrainConfig(merge=True))
    request["AlgorithmSpecification"]["TrainingImage"]
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from finetune.aws_tables import image_uri as default_image_uri
from finetune.train_config import TrainConfig

ENTRY_POINT = "finetune/train.py"
JOB_REQUIREMENTS = [
    "trl==1.16.0",
    "peft>=0.13",
    "datasets>=3",
    "accelerate>=1.0",
    "transformers>=4.45",
    "pyyaml",
    "bitsandbytes",
]
_LOCAL_ONLY = {"data", "output_dir", "device"}


def job_hyperparameters(config: TrainConfig, region: str, source_url: str) -> dict[str, str]:
    """SageMaker hyperparameters: JSON-encoded values, as the sagemaker-training toolkit expects."""
    params = {k: v for k, v in asdict(config).items() if k not in _LOCAL_ONLY}
    params["target_modules"] = ",".join(config.target_modules)
    encoded = {k: json.dumps(v) for k, v in params.items()}
    encoded.update(
        {
            "sagemaker_program": json.dumps(ENTRY_POINT),
            "sagemaker_submit_directory": json.dumps(source_url),
            "sagemaker_region": json.dumps(region),
            "sagemaker_container_log_level": "20",
        }
    )
    return encoded


def training_job_request(
    *,
    job_name: str,
    role_arn: str,
    region: str,
    source_url: str,
    data_url: str,
    output_url: str,
    config: TrainConfig,
    instance_type: str = "ml.g5.2xlarge",
    image_uri: str | None = None,
    volume_gb: int = 100,
    max_runtime_hours: float = 24,
) -> dict:
    """The boto3 ``create_training_job`` request (pure)."""
    return {
        "TrainingJobName": job_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri or default_image_uri("training", region),
            "TrainingInputMode": "File",
            "EnableSageMakerMetricsTimeSeries": True,
            "MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss ([0-9.]+)"}],
        },
        "HyperParameters": job_hyperparameters(config, region, source_url),
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data_url,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_url},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(max_runtime_hours * 3600)},
        "Environment": {"HF_HUB_ENABLE_HF_TRANSFER": "0"},
        "Tags": [{"Key": "docent:job", "Value": "finetune"}],
    }


def source_tarball(package_dir: Path | None = None) -> bytes:
    """sourcedir.tar.gz bytes: finetune/*.py, the Q&A file reader it imports, and a requirements.txt."""
    package_dir = package_dir or Path(__file__).resolve().parent
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(package_dir.glob("*.py")):
            archive.add(path, arcname=f"finetune/{path.name}")
        # train.py reads the Q&A file through feedback/qa_file.py (which un-escapes cells with
        # feedback/safe_cells.py) and raises config.errors' base (all stdlib only); ship them without the
        # rest of their packages, whose dependencies the container lacks.
        root = package_dir.parent
        for shipped in ("feedback/qa_file.py", "feedback/safe_cells.py", "config/errors.py"):
            archive.add(root / shipped, arcname=shipped)
        _add_bytes(archive, "feedback/__init__.py", b"")
        _add_bytes(archive, "config/__init__.py", b"")
        _add_bytes(archive, "requirements.txt", ("\n".join(JOB_REQUIREMENTS) + "\n").encode())
    return buffer.getvalue()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def launch_training_job(
    *,
    job_name: str,
    data_file: Path,
    bucket: str,
    role_arn: str,
    region: str,
    config: TrainConfig,
    instance_type: str = "ml.g5.2xlarge",
    image_uri: str | None = None,
    sagemaker=None,
    s3=None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Upload source and data to s3://bucket/job_name/, then create the training job."""
    import boto3

    if not data_file.is_file():
        raise ValueError(f"fine-tuning set {data_file} not found; pass --data qa.csv")
    s3 = s3 or boto3.client("s3", region_name=region)
    sagemaker = sagemaker or boto3.client("sagemaker", region_name=region)
    source_key = f"{job_name}/source/sourcedir.tar.gz"
    s3.put_object(Bucket=bucket, Key=source_key, Body=source_tarball())
    s3.upload_file(str(data_file), bucket, f"{job_name}/data/{data_file.name}")
    request = training_job_request(
        job_name=job_name,
        role_arn=role_arn,
        region=region,
        source_url=f"s3://{bucket}/{source_key}",
        data_url=f"s3://{bucket}/{job_name}/data/",
        output_url=f"s3://{bucket}/{job_name}/output/",
        config=config,
        instance_type=instance_type,
        image_uri=image_uri,
    )
    response = sagemaker.create_training_job(**request)
    echo(
        f"started training job {job_name}; model will be at s3://{bucket}/{job_name}/output/{job_name}/output/model.tar.gz"
    )
    return response
