"""Deploy a fine-tuned model to a SageMaker real-time endpoint (LMI or TGI container), and take it down.

Every AWS request is built by a pure function from a :class:`DeployPlan`; :func:`deploy` and
:func:`undeploy` only send them, through clients that are passed in (or built from the region).

Deploying an existing endpoint name updates it in place with a new endpoint config (SageMaker
shifts traffic once the new variant is healthy), so a bad model is rolled back by deploying the
previous model directory again.

Example::

    from finetune.deploy import plan_deployment, create_model_request

    plan = plan_deployment(endpoint="docent-ft", model_data_url="s3://b/docent-ft/model.tar.gz",
                           role_arn="arn:aws:iam::123456789012:role/sm", region="eu-west-1",
                           instance_type="ml.g5.2xlarge", suffix="20260101-000000")
    create_model_request(plan)["PrimaryContainer"]["Environment"]["OPTION_TENSOR_PARALLEL_DEGREE"]  # '1'
"""

from __future__ import annotations

import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import DocentError
from finetune.aws_tables import image_uri as default_image_uri
from finetune.aws_tables import tensor_parallel_degree

VARIANT = "AllTraffic"


class DeployError(DocentError, RuntimeError):
    """A deployment problem the user can fix; the message says how."""


@dataclass(frozen=True)
class DeployPlan:
    endpoint: str
    model_name: str
    config_name: str
    model_data_url: str
    image_uri: str
    role_arn: str
    instance_type: str
    initial_instances: int
    environment: dict[str, str] = field(default_factory=dict)
    min_instances: int | None = None
    max_instances: int | None = None
    target_invocations_per_instance: float = 60.0
    container: str = "lmi"


def container_environment(
    container: str, tp_degree: int, max_input_tokens: int = 4096, max_total_tokens: int = 6144
) -> dict[str, str]:
    """Environment for the serving container; the model is read from /opt/ml/model (the tarball)."""
    if container == "lmi":
        return {
            "HF_MODEL_ID": "/opt/ml/model",
            "OPTION_TENSOR_PARALLEL_DEGREE": str(tp_degree),
            "OPTION_ROLLING_BATCH": "vllm",
            "OPTION_MAX_ROLLING_BATCH_SIZE": "16",
            "OPTION_MAX_MODEL_LEN": str(max_total_tokens),
            "OPTION_DTYPE": "fp16",
        }
    if container == "tgi":
        return {
            "HF_MODEL_ID": "/opt/ml/model",
            "SM_NUM_GPUS": str(tp_degree),
            "MAX_INPUT_LENGTH": str(max_input_tokens),
            "MAX_TOTAL_TOKENS": str(max_total_tokens),
            "MAX_BATCH_PREFILL_TOKENS": str(max_total_tokens),
        }
    raise DeployError(f"unknown --container '{container}'; choose lmi or tgi")


def plan_deployment(
    *,
    endpoint: str,
    model_data_url: str,
    role_arn: str,
    region: str,
    instance_type: str = "ml.g5.2xlarge",
    container: str = "lmi",
    image_uri: str | None = None,
    initial_instances: int = 1,
    min_instances: int | None = None,
    max_instances: int | None = None,
    tp_degree: int | None = None,
    num_attention_heads: int | None = None,
    suffix: str | None = None,
) -> DeployPlan:
    """Decide names, image, environment and scaling; no AWS call. ``suffix`` defaults to a UTC timestamp."""
    if not endpoint or len(endpoint) > 50:
        raise DeployError(f"endpoint name '{endpoint}' must be 1-50 characters (a suffix is added for model names)")
    if (min_instances is None) != (max_instances is None):
        raise DeployError("autoscaling needs both --min-instances and --max-instances")
    if min_instances is not None and not 1 <= min_instances <= max_instances:  # type: ignore[operator]
        raise DeployError(f"need 1 <= --min-instances ({min_instances}) <= --max-instances ({max_instances})")
    suffix = suffix or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    tp = tp_degree or tensor_parallel_degree(instance_type, num_attention_heads)
    return DeployPlan(
        endpoint=endpoint,
        model_name=f"{endpoint}-{suffix}",
        config_name=f"{endpoint}-{suffix}",
        model_data_url=model_data_url,
        image_uri=image_uri or default_image_uri(container, region),
        role_arn=role_arn,
        instance_type=instance_type,
        initial_instances=max(initial_instances, min_instances or 1),
        environment=container_environment(container, tp),
        min_instances=min_instances,
        max_instances=max_instances,
        container=container,
    )


# ---------------------------------------------------------------- request builders (pure)


def create_model_request(plan: DeployPlan) -> dict:
    return {
        "ModelName": plan.model_name,
        "ExecutionRoleArn": plan.role_arn,
        "PrimaryContainer": {
            "Image": plan.image_uri,
            "ModelDataUrl": plan.model_data_url,
            "Environment": dict(plan.environment),
        },
        "Tags": [{"Key": "docent:endpoint", "Value": plan.endpoint}],
    }


def create_endpoint_config_request(plan: DeployPlan) -> dict:
    return {
        "EndpointConfigName": plan.config_name,
        "ProductionVariants": [
            {
                "VariantName": VARIANT,
                "ModelName": plan.model_name,
                "InstanceType": plan.instance_type,
                "InitialInstanceCount": plan.initial_instances,
                "ContainerStartupHealthCheckTimeoutInSeconds": 900,
                "ModelDataDownloadTimeoutInSeconds": 1200,
            }
        ],
    }


def create_endpoint_request(plan: DeployPlan) -> dict:
    return {"EndpointName": plan.endpoint, "EndpointConfigName": plan.config_name}


def scaling_resource_id(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/{VARIANT}"


def register_scalable_target_request(plan: DeployPlan) -> dict:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(plan.endpoint),
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": plan.min_instances,
        "MaxCapacity": plan.max_instances,
    }


def scaling_policy_request(plan: DeployPlan) -> dict:
    return {
        "PolicyName": f"{plan.endpoint}-invocations",
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(plan.endpoint),
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": plan.target_invocations_per_instance,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }


# ---------------------------------------------------------------- packaging


def check_model_dir(model_dir: Path) -> dict:
    """The directory must hold a full (merged) model; returns its config.json."""
    if not model_dir.is_dir():
        raise DeployError(f"model directory {model_dir} not found; pass the --output-dir of `docent finetune train`")
    if not (model_dir / "config.json").is_file():
        if (model_dir / "adapter_config.json").is_file():
            raise DeployError(
                f"{model_dir} holds a LoRA adapter only; the serving containers need a merged model. "
                "Re-run `docent finetune train ... --merge` and deploy that directory."
            )
        raise DeployError(f"{model_dir} has no config.json; it is not a saved Hugging Face model")
    return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))


def package_model(model_dir: Path, tarball: Path) -> Path:
    """Write model.tar.gz with the model files at the archive root (what SageMaker unpacks to /opt/ml/model)."""
    skip = {"checkpoints", "training_log.jsonl"}
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            rel = path.relative_to(model_dir)
            if path.is_file() and rel.parts[0] not in skip:
                archive.add(path, arcname=str(rel))
    return tarball


def upload_model(s3, tarball: Path, bucket: str, key: str) -> str:
    s3.upload_file(str(tarball), bucket, key)
    return f"s3://{bucket}/{key}"


# ---------------------------------------------------------------- sending


def _client(name: str, region: str | None):
    import boto3

    return boto3.client(name, region_name=region)


def endpoint_exists(sagemaker, endpoint: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        sagemaker.describe_endpoint(EndpointName=endpoint)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return False
        raise


def deploy(
    plan: DeployPlan,
    *,
    sagemaker=None,
    autoscaling=None,
    region: str | None = None,
    wait: bool = False,
    echo: Callable[[str], None] = print,
) -> dict:
    """Create the model and endpoint config, then create or update the endpoint; optionally autoscale."""
    sagemaker = sagemaker or _client("sagemaker", region)
    sagemaker.create_model(**create_model_request(plan))
    echo(f"created model {plan.model_name} ({plan.image_uri})")
    sagemaker.create_endpoint_config(**create_endpoint_config_request(plan))
    echo(f"created endpoint config {plan.config_name} ({plan.initial_instances} x {plan.instance_type})")
    if endpoint_exists(sagemaker, plan.endpoint):
        response = sagemaker.update_endpoint(**create_endpoint_request(plan))
        echo(f"updating endpoint {plan.endpoint}; traffic moves once the new model is healthy")
    else:
        response = sagemaker.create_endpoint(**create_endpoint_request(plan))
        echo(f"creating endpoint {plan.endpoint} (usually 8-15 minutes)")
    if wait:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=plan.endpoint, WaiterConfig={"Delay": 30, "MaxAttempts": 80}
        )
        echo(f"endpoint {plan.endpoint} is InService")
    if plan.min_instances is not None:
        if not wait:
            echo("note: autoscaling is registered now; it applies once the endpoint is InService")
        autoscaling = autoscaling or _client("application-autoscaling", region)
        autoscaling.register_scalable_target(**register_scalable_target_request(plan))
        autoscaling.put_scaling_policy(**scaling_policy_request(plan))
        echo(f"autoscaling {plan.min_instances}-{plan.max_instances} instances on invocations per instance")
    return response


def undeploy(
    endpoint: str, *, sagemaker=None, autoscaling=None, region: str | None = None, echo: Callable[[str], None] = print
) -> list[str]:
    """Delete the endpoint, its endpoint config and its model(s); returns what was deleted."""
    from botocore.exceptions import ClientError

    sagemaker = sagemaker or _client("sagemaker", region)
    autoscaling = autoscaling or _client("application-autoscaling", region)
    try:
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    except ClientError as exc:
        raise DeployError(f"endpoint '{endpoint}' not found in this account/region: {exc}") from exc
    models = [
        v["ModelName"] for v in sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    ]
    deleted: list[str] = []
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[scaling_resource_id(endpoint)]
    )["ScalableTargets"]
    for target in targets:
        autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=target["ResourceId"], ScalableDimension=target["ScalableDimension"]
        )
        deleted.append(f"scalable target {target['ResourceId']}")
    sagemaker.delete_endpoint(EndpointName=endpoint)
    deleted.append(f"endpoint {endpoint}")
    sagemaker.delete_endpoint_config(EndpointConfigName=config_name)
    deleted.append(f"endpoint config {config_name}")
    for model in models:
        sagemaker.delete_model(ModelName=model)
        deleted.append(f"model {model}")
    for line in deleted:
        echo(f"deleted {line}")
    return deleted
