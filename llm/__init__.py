"""LLM backends behind one Protocol (protocol.py): extractive, local, sagemaker, bedrock, openai."""
