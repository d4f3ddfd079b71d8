"""Fine-tuning: dataset loading and validation, LoRA training, SageMaker training jobs and deployment.

Heavy libraries (torch, transformers, trl, peft, boto3) load inside functions, so importing this
package is cheap.
"""
