"""Static AWS facts the deployer needs: GPUs per instance type and the AWS Deep Learning Container images.

Sources (checked when written, Nov 2026; override with ``--image-uri`` when AWS moves on):

* account ids per region: the sagemaker-python-sdk ``image_uri_config/djl-lmi.json`` and
  ``huggingface-llm.json`` registries (the same accounts host every DLC repository);
* tags: LMI ``djl-inference:0.30.0-lmi12.0.0-cu124`` (vLLM/lmi-dist backends), TGI
  ``huggingface-pytorch-tgi-inference:2.1.1-tgi2.0.0-gpu-py310-cu121-ubuntu22.04``, training
  ``huggingface-pytorch-training:2.5.1-transformers4.49.0-gpu-py311-cu124-ubuntu22.04`` (py311, as Docent);
* GPUs per instance: the EC2 instance-type pages (g5/g6/g6e/g4dn/p3/p4d/p4de/p5).

Example::

    >>> gpu_count("ml.g5.2xlarge"), gpu_count("ml.g5.12xlarge")
    (1, 4)
    >>> image_uri("lmi", "eu-west-1")
    '763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:0.30.0-lmi12.0.0-cu124'
"""

from __future__ import annotations

_DLC_DEFAULT_ACCOUNT = "763104351884"
DLC_ACCOUNTS: dict[str, str] = {
    **{
        region: _DLC_DEFAULT_ACCOUNT
        for region in (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        )
    },
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}

# container -> (ECR repository, tag)
IMAGES: dict[str, tuple[str, str]] = {
    "lmi": ("djl-inference", "0.30.0-lmi12.0.0-cu124"),
    "tgi": ("huggingface-pytorch-tgi-inference", "2.1.1-tgi2.0.0-gpu-py310-cu121-ubuntu22.04"),
    "training": ("huggingface-pytorch-training", "2.5.1-transformers4.49.0-gpu-py311-cu124-ubuntu22.04"),
}

_SIZES_1_GPU = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
INSTANCE_GPUS: dict[str, int] = {
    **{f"ml.{family}.{size}": 1 for family in ("g4dn", "g5", "g6", "g6e") for size in _SIZES_1_GPU},
    **{f"ml.{family}.12xlarge": 4 for family in ("g4dn", "g5", "g6", "g6e")},
    **{f"ml.{family}.24xlarge": 4 for family in ("g5", "g6", "g6e")},
    **{f"ml.{family}.48xlarge": 8 for family in ("g5", "g6", "g6e")},
    "ml.g4dn.metal": 8,
    "ml.p3.2xlarge": 1,
    "ml.p3.8xlarge": 4,
    "ml.p3.16xlarge": 8,
    "ml.p3dn.24xlarge": 8,
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.48xlarge": 8,
}


def gpu_count(instance_type: str) -> int:
    """GPUs on a SageMaker instance type; ValueError naming the type when it is not in the table."""
    try:
        return INSTANCE_GPUS[instance_type]
    except KeyError:
        raise ValueError(
            f"unknown GPU instance type '{instance_type}'; use one of ml.g5.2xlarge, ml.g5.12xlarge, "
            f"ml.g6e.2xlarge, ml.p4d.24xlarge, ... or pass --tensor-parallel-degree explicitly"
        ) from None


def tensor_parallel_degree(instance_type: str, num_attention_heads: int | None = None) -> int:
    """Shard the model over every GPU of the instance (the heads must divide evenly)."""
    gpus = gpu_count(instance_type)
    if num_attention_heads and num_attention_heads % gpus:
        raise ValueError(
            f"{instance_type} has {gpus} GPUs but the model's {num_attention_heads} attention heads do not split "
            f"evenly over them; choose an instance with 1, 2, 4 or 8 GPUs or pass --tensor-parallel-degree"
        )
    return gpus


def image_uri(container: str, region: str) -> str:
    """ECR URI of a Deep Learning Container ('lmi', 'tgi' or 'training') in ``region``."""
    if container not in IMAGES:
        raise ValueError(f"unknown container '{container}'; choose one of {', '.join(IMAGES)}")
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        raise ValueError(
            f"no Deep Learning Container account known for region '{region}'; pass --image-uri "
            "(see https://github.com/aws/deep-learning-containers/blob/master/available_images.md)"
        )
    repository, tag = IMAGES[container]
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/{repository}:{tag}"
