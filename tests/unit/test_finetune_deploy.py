"""SageMaker deployment: image and TP tables, request building, and the exact API calls (botocore Stubber)."""

from __future__ import annotations

import datetime as dt
import json
import tarfile

import boto3
import pytest
from botocore.stub import ANY, Stubber

from finetune.aws_tables import gpu_count, image_uri, tensor_parallel_degree
from finetune.deploy import (
    DeployError,
    check_model_dir,
    create_endpoint_config_request,
    create_model_request,
    deploy,
    package_model,
    plan_deployment,
    undeploy,
)

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/docent-sagemaker"
LMI_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:0.30.0-lmi12.0.0-cu124"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/docent-ft"


def client(name):
    return boto3.client(name, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")


@pytest.mark.parametrize(
    "instance, gpus",
    [
        ("ml.g5.2xlarge", 1),
        ("ml.g5.xlarge", 1),
        ("ml.g5.12xlarge", 4),
        ("ml.g5.48xlarge", 8),
        ("ml.g6e.2xlarge", 1),
        ("ml.p4d.24xlarge", 8),
        ("ml.g4dn.12xlarge", 4),
    ],
)
def test_tensor_parallel_degree_is_the_gpu_count(instance, gpus):
    assert gpu_count(instance) == gpus
    assert tensor_parallel_degree(instance, num_attention_heads=32) == gpus


def test_single_gpu_instance_never_gets_tp_4():
    # The seed notebook used tensor_parallel_degree=4 on ml.g5.2xlarge, which has one A10G.
    plan = plan_deployment(
        endpoint="ft",
        model_data_url="s3://b/m.tar.gz",
        role_arn=ROLE,
        region=REGION,
        instance_type="ml.g5.2xlarge",
        suffix="s",
    )
    assert plan.environment["OPTION_TENSOR_PARALLEL_DEGREE"] == "1"


def test_unknown_instance_and_uneven_heads_are_explained():
    with pytest.raises(ValueError, match="unknown GPU instance type 'ml.m5.large'"):
        gpu_count("ml.m5.large")
    with pytest.raises(ValueError, match="do not split evenly"):
        tensor_parallel_degree("ml.g5.12xlarge", num_attention_heads=6)


def test_image_uris_per_region_and_container():
    assert image_uri("lmi", REGION) == LMI_IMAGE
    assert image_uri("tgi", "me-south-1") == (
        "217643126080.dkr.ecr.me-south-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.1.1-tgi2.0.0-gpu-py310-cu121-ubuntu22.04"
    )
    assert image_uri("lmi", "cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ValueError, match="--image-uri"):
        image_uri("lmi", "mars-east-1")


def test_tgi_environment_and_image_override():
    plan = plan_deployment(
        endpoint="ft",
        model_data_url="s3://b/m.tar.gz",
        role_arn=ROLE,
        region=REGION,
        instance_type="ml.g5.12xlarge",
        container="tgi",
        image_uri="my/image:1",
        suffix="s",
    )
    request = create_model_request(plan)
    assert request["PrimaryContainer"]["Image"] == "my/image:1"
    assert request["PrimaryContainer"]["Environment"]["SM_NUM_GPUS"] == "4"
    assert request["PrimaryContainer"]["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"


def test_autoscaling_needs_both_bounds():
    with pytest.raises(DeployError, match="both --min-instances and --max-instances"):
        plan_deployment(endpoint="ft", model_data_url="s3://b/m", role_arn=ROLE, region=REGION, min_instances=1)
    with pytest.raises(DeployError, match="<= --max-instances"):
        plan_deployment(
            endpoint="ft", model_data_url="s3://b/m", role_arn=ROLE, region=REGION, min_instances=3, max_instances=2
        )


def test_deploy_new_endpoint_with_autoscaling_makes_exactly_these_calls():
    plan = plan_deployment(
        endpoint="docent-ft",
        model_data_url="s3://bucket/docent-ft/model.tar.gz",
        role_arn=ROLE,
        region=REGION,
        instance_type="ml.g5.2xlarge",
        min_instances=1,
        max_instances=3,
        suffix="20260101-000000",
    )
    sm, aas = client("sagemaker"), client("application-autoscaling")
    with Stubber(sm) as sm_stub, Stubber(aas) as aas_stub:
        sm_stub.add_response(
            "create_model",
            {"ModelArn": ARN},
            {
                "ModelName": "docent-ft-20260101-000000",
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {
                    "Image": LMI_IMAGE,
                    "ModelDataUrl": "s3://bucket/docent-ft/model.tar.gz",
                    "Environment": {
                        "HF_MODEL_ID": "/opt/ml/model",
                        "OPTION_TENSOR_PARALLEL_DEGREE": "1",
                        "OPTION_ROLLING_BATCH": "vllm",
                        "OPTION_MAX_ROLLING_BATCH_SIZE": "16",
                        "OPTION_MAX_MODEL_LEN": "6144",
                        "OPTION_DTYPE": "fp16",
                    },
                },
                "Tags": [{"Key": "docent:endpoint", "Value": "docent-ft"}],
            },
        )
        sm_stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": ARN},
            {
                "EndpointConfigName": "docent-ft-20260101-000000",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "docent-ft-20260101-000000",
                        "InstanceType": "ml.g5.2xlarge",
                        "InitialInstanceCount": 1,
                        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
                        "ModelDataDownloadTimeoutInSeconds": 1200,
                    }
                ],
            },
        )
        sm_stub.add_client_error(
            "describe_endpoint",
            "ValidationException",
            "Could not find endpoint",
            expected_params={"EndpointName": "docent-ft"},
        )
        sm_stub.add_response(
            "create_endpoint",
            {"EndpointArn": ARN},
            {"EndpointName": "docent-ft", "EndpointConfigName": "docent-ft-20260101-000000"},
        )
        aas_stub.add_response(
            "register_scalable_target",
            {},
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/docent-ft/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "MinCapacity": 1,
                "MaxCapacity": 3,
            },
        )
        aas_stub.add_response(
            "put_scaling_policy",
            {"PolicyARN": ARN, "Alarms": []},
            {
                "PolicyName": "docent-ft-invocations",
                "ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/docent-ft/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": ANY,
            },
        )
        response = deploy(plan, sagemaker=sm, autoscaling=aas, echo=lambda _: None)
        sm_stub.assert_no_pending_responses()
        aas_stub.assert_no_pending_responses()
    assert response["EndpointArn"] == ARN


def test_deploy_over_existing_endpoint_updates_it_and_waits():
    plan = plan_deployment(
        endpoint="docent-ft", model_data_url="s3://b/m.tar.gz", role_arn=ROLE, region=REGION, suffix="v2"
    )
    sm = client("sagemaker")
    described = {
        "EndpointName": "docent-ft",
        "EndpointArn": ARN,
        "EndpointConfigName": "docent-ft-v1",
        "EndpointStatus": "InService",
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
    with Stubber(sm) as stub:
        stub.add_response("create_model", {"ModelArn": ARN}, create_model_request(plan))
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": ARN}, create_endpoint_config_request(plan))
        stub.add_response("describe_endpoint", described, {"EndpointName": "docent-ft"})
        stub.add_response(
            "update_endpoint", {"EndpointArn": ARN}, {"EndpointName": "docent-ft", "EndpointConfigName": "docent-ft-v2"}
        )
        stub.add_response(
            "describe_endpoint", {**described, "EndpointConfigName": "docent-ft-v2"}, {"EndpointName": "docent-ft"}
        )
        deploy(plan, sagemaker=sm, wait=True, echo=lambda _: None)
        stub.assert_no_pending_responses()


def test_undeploy_deletes_scaling_endpoint_config_and_models_in_order():
    sm, aas = client("sagemaker"), client("application-autoscaling")
    with Stubber(sm) as sm_stub, Stubber(aas) as aas_stub:
        sm_stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "docent-ft",
                "EndpointArn": ARN,
                "EndpointConfigName": "docent-ft-v2",
                "EndpointStatus": "InService",
                "CreationTime": NOW,
                "LastModifiedTime": NOW,
            },
            {"EndpointName": "docent-ft"},
        )
        sm_stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "docent-ft-v2",
                "EndpointConfigArn": ARN,
                "CreationTime": NOW,
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "docent-ft-v2"}],
            },
            {"EndpointConfigName": "docent-ft-v2"},
        )
        aas_stub.add_response(
            "describe_scalable_targets",
            {
                "ScalableTargets": [
                    {
                        "ServiceNamespace": "sagemaker",
                        "ResourceId": "endpoint/docent-ft/variant/AllTraffic",
                        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                        "MinCapacity": 1,
                        "MaxCapacity": 3,
                        "RoleARN": ARN,
                        "CreationTime": NOW,
                    }
                ]
            },
            {"ServiceNamespace": "sagemaker", "ResourceIds": ["endpoint/docent-ft/variant/AllTraffic"]},
        )
        aas_stub.add_response(
            "deregister_scalable_target",
            {},
            {
                "ServiceNamespace": "sagemaker",
                "ResourceId": "endpoint/docent-ft/variant/AllTraffic",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            },
        )
        sm_stub.add_response("delete_endpoint", {}, {"EndpointName": "docent-ft"})
        sm_stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "docent-ft-v2"})
        sm_stub.add_response("delete_model", {}, {"ModelName": "docent-ft-v2"})
        deleted = undeploy("docent-ft", sagemaker=sm, autoscaling=aas, echo=lambda _: None)
        sm_stub.assert_no_pending_responses()
        aas_stub.assert_no_pending_responses()
    assert deleted == [
        "scalable target endpoint/docent-ft/variant/AllTraffic",
        "endpoint docent-ft",
        "endpoint config docent-ft-v2",
        "model docent-ft-v2",
    ]


def test_undeploy_unknown_endpoint_names_it():
    sm, aas = client("sagemaker"), client("application-autoscaling")
    with Stubber(sm) as stub:
        stub.add_client_error("describe_endpoint", "ValidationException", "Could not find endpoint")
        with pytest.raises(DeployError, match="endpoint 'nope' not found"):
            undeploy("nope", sagemaker=sm, autoscaling=aas, echo=lambda _: None)


def test_model_dir_checks_and_tarball_layout(tmp_path):
    adapter = tmp_path / "adapter-only"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(DeployError, match="--merge"):
        check_model_dir(adapter)
    with pytest.raises(DeployError, match="not found"):
        check_model_dir(tmp_path / "missing")

    merged = tmp_path / "merged"
    (merged / "adapter").mkdir(parents=True)
    (merged / "config.json").write_text(json.dumps({"num_attention_heads": 32}))
    (merged / "model.safetensors").write_bytes(b"weights")
    (merged / "adapter" / "adapter_config.json").write_text("{}")
    (merged / "training_log.jsonl").write_text("{}\n")
    assert check_model_dir(merged)["num_attention_heads"] == 32
    tarball = package_model(merged, tmp_path / "model.tar.gz")
    with tarfile.open(tarball) as archive:
        names = sorted(archive.getnames())
    assert names == ["adapter/adapter_config.json", "config.json", "model.safetensors"]
