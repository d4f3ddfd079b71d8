"""Answer metrics for a fine-tuned model: exact match and token F1 (SQuAD-style), plus greedy generation.

Example::

    from finetune.evaluate import token_f1, exact_match
    assert exact_match("Payday is the 28th.", "payday is the 28th")
    assert token_f1("the office opens at 7", "office opens at 7 am") > 0.8
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze whitespace."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> bool:
    return normalise_answer(prediction) == normalise_answer(reference)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalise_answer(prediction).split(), normalise_answer(reference).split()
    if not pred and not ref:
        return 1.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def score(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean exact match and token F1 over aligned predictions and references."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    n = len(references)
    if n == 0:
        return {"exact_match": 0.0, "token_f1": 0.0, "n": 0}
    em = sum(exact_match(p, r) for p, r in zip(predictions, references, strict=True)) / n
    f1 = sum(token_f1(p, r) for p, r in zip(predictions, references, strict=True)) / n
    return {"exact_match": em, "token_f1": f1, "n": n}


def generate_answers(
    model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 256, batch_size: int = 8
) -> list[str]:
    """Greedy answers for already-formatted prompts (the prompt text carries its own BOS)."""
    import torch

    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = next(model.parameters()).device
    answers: list[str] = []
    model.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(
                list(prompts[start : start + batch_size]), return_tensors="pt", padding=True, add_special_tokens=False
            ).to(device)
            with torch.no_grad():
                output = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            answers.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = previous_side
    return answers
