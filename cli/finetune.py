"""`docent finetune ...`: train a LoRA adapter, launch it as a SageMaker training job, deploy, undeploy.

The `train` flags are generated from ``TrainConfig`` so that every hyperparameter has a flag with
its default and help text, and the CLI, the config file and the SageMaker entry point cannot drift.

Example::

    docent finetune train --data qa.csv --output-dir out --base-model mistralai/Mistral-7B-Instruct-v0.2 --merge
    docent finetune deploy --model out --endpoint docent-ft --role arn:aws:iam::1:role/sm --bucket my-bucket
    docent finetune undeploy --endpoint docent-ft
"""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from finetune.train_config import config_fields

finetune_app = typer.Typer(help="Fine-tune the answer model (LoRA) and deploy it to SageMaker.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _aws_errors():
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _config_from(config_file: Path | None, values: dict):
    from finetune.train_config import load_train_config

    try:
        return load_train_config(config_file, values)
    except ValueError as exc:
        _fail(f"error: {exc}")


def _config_parameters() -> list[inspect.Parameter]:
    params = [
        inspect.Parameter(
            "config_file",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, "--config", help="YAML or JSON file of the settings below; flags override it."),
            annotation=Path | None,
        )
    ]
    for name, _type, default, help_text, choices in config_fields():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            option = typer.Option(
                None, f"{flag}/--no-{name.replace('_', '-')}", help=f"{help_text} (default: {default})"
            )
            annotation = bool | None
        elif isinstance(default, list):
            option = typer.Option(None, flag, help=f"{help_text} Comma-separated. (default: {','.join(default)})")
            annotation = str | None
        else:
            extra = f" One of: {', '.join(choices)}." if choices else ""
            shown = f" (default: {default})" if default != "" else " (required unless set in --config)"
            option = typer.Option(None, flag, help=f"{help_text}{extra}{shown}")
            annotation = type(default) | None
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation))
    return params


def train(**kwargs) -> None:
    """Fine-tune a LoRA adapter on a CSV/JSONL set of instruction,response pairs (answer-only loss)."""
    from finetune.train import TrainingError, run_training

    config = _config_from(kwargs.pop("config_file"), kwargs)
    try:
        result = run_training(config, echo=typer.echo)
    except TrainingError as exc:
        _fail(str(exc))
    typer.echo(f"seconds per epoch: {result.seconds_per_epoch:.2f}")


train.__signature__ = inspect.Signature(_config_parameters(), return_annotation=None)  # type: ignore[attr-defined]


def launch_training_job(
    data: Path = typer.Option(..., help="Fine-tuning set (CSV or JSONL) to upload as the job's 'train' channel."),
    job_name: str = typer.Option(..., help="Training job name (unique in the account; also the S3 prefix)."),
    role: str = typer.Option(..., help="ARN of the SageMaker execution role (needs S3 read/write on --bucket)."),
    bucket: str = typer.Option(..., help="S3 bucket for source, data and the trained model."),
    region: str | None = typer.Option(None, help="AWS region (default: DOCENT_AWS_REGION)."),
    instance_type: str = typer.Option(
        "ml.g5.2xlarge", help="Training instance (one A10G 24 GB fits QLoRA/LoRA of 7B)."
    ),
    image_uri: str | None = typer.Option(None, help="Override the Hugging Face PyTorch training image URI."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML or JSON training settings (see `train --help`)."
    ),
) -> None:
    """Run `docent finetune train` as a SageMaker training job (the same script is the entry point)."""
    from finetune.training_job import launch_training_job as launch

    config = _config_from(config_file, {})
    try:
        launch(
            job_name=job_name,
            data_file=data,
            bucket=bucket,
            role_arn=role,
            region=_region(region),
            config=config,
            instance_type=instance_type,
            image_uri=image_uri,
            echo=typer.echo,
        )
    except (ValueError, *_aws_errors()) as exc:
        _fail(f"error: {exc}")


def _region(region: str | None) -> str:
    if region:
        return region
    try:
        from config.settings import load_settings

        configured = load_settings().aws_region
    except Exception:  # settings are optional for these commands
        configured = None
    if not configured:
        _fail("no AWS region: pass --region or set DOCENT_AWS_REGION")
    return configured


def deploy(
    model: str = typer.Option(
        ..., help="Merged model directory from `train --merge`, or an s3:// URI of a model.tar.gz."
    ),
    endpoint: str = typer.Option(..., help="SageMaker endpoint name; an existing endpoint is updated in place."),
    role: str = typer.Option(..., help="ARN of the SageMaker execution role."),
    bucket: str | None = typer.Option(None, help="S3 bucket to upload model.tar.gz to (needed for a local --model)."),
    instance_type: str = typer.Option("ml.g5.2xlarge", help="Endpoint instance; tensor parallelism uses all its GPUs."),
    region: str | None = typer.Option(None, help="AWS region (default: DOCENT_AWS_REGION)."),
    container: str = typer.Option("lmi", help="Serving container: lmi (DJL, vLLM backend) or tgi."),
    image_uri: str | None = typer.Option(None, help="Override the container image URI."),
    tensor_parallel_degree: int | None = typer.Option(None, help="Override the GPU count used for sharding."),
    initial_instances: int = typer.Option(1, help="Instances at start."),
    min_instances: int | None = typer.Option(None, help="Autoscaling minimum (with --max-instances)."),
    max_instances: int | None = typer.Option(None, help="Autoscaling maximum (with --min-instances)."),
    wait: bool = typer.Option(False, help="Wait until the endpoint is InService (8-15 minutes)."),
) -> None:
    """Package the model to S3 and create (or update) a SageMaker endpoint serving it."""
    import tempfile

    from finetune.deploy import DeployError, check_model_dir, package_model, plan_deployment, upload_model
    from finetune.deploy import deploy as send

    region = _region(region)
    try:
        heads = None
        if model.startswith("s3://"):
            model_data_url = model
        else:
            if not bucket:
                _fail("a local --model needs --bucket to upload model.tar.gz to")
            model_dir = Path(model)
            heads = check_model_dir(model_dir).get("num_attention_heads")
            import boto3

            with tempfile.TemporaryDirectory() as tmp:
                tarball = package_model(model_dir, Path(tmp) / "model.tar.gz")
                typer.echo(f"uploading {tarball.stat().st_size / 1e9:.2f} GB to s3://{bucket}/{endpoint}/")
                model_data_url = upload_model(
                    boto3.client("s3", region_name=region), tarball, bucket, f"{endpoint}/model.tar.gz"
                )
        plan = plan_deployment(
            endpoint=endpoint,
            model_data_url=model_data_url,
            role_arn=role,
            region=region,
            instance_type=instance_type,
            container=container,
            image_uri=image_uri,
            initial_instances=initial_instances,
            min_instances=min_instances,
            max_instances=max_instances,
            tp_degree=tensor_parallel_degree,
            num_attention_heads=heads,
        )
        send(plan, region=region, wait=wait, echo=typer.echo)
    except (DeployError, ValueError, *_aws_errors()) as exc:
        _fail(f"error: {exc}")
    typer.echo(f"point Docent at it: DOCENT_SAGEMAKER_FINETUNED_ENDPOINT={endpoint}")


def undeploy(
    endpoint: str = typer.Option(..., help="Endpoint to delete, with its endpoint config, model(s) and autoscaling."),
    region: str | None = typer.Option(None, help="AWS region (default: DOCENT_AWS_REGION)."),
) -> None:
    """Delete a fine-tuned endpoint and everything deploy created for it (the S3 tarball is kept)."""
    from finetune.deploy import DeployError
    from finetune.deploy import undeploy as remove

    try:
        remove(endpoint, region=_region(region), echo=typer.echo)
    except (DeployError, *_aws_errors()) as exc:
        _fail(f"error: {exc}")
    typer.echo("unset DOCENT_SAGEMAKER_FINETUNED_ENDPOINT so Docent answers with RAG only")


finetune_app.command("train")(train)
finetune_app.command("launch-training-job")(launch_training_job)
finetune_app.command("deploy")(deploy)
finetune_app.command("undeploy")(undeploy)


def register(app: typer.Typer) -> None:
    app.add_typer(finetune_app, name="finetune")
