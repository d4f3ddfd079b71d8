"""Question -> answer: router, retrieval, RAG, LLM backends, prompts, confidence."""
