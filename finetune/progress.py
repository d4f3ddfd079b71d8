"""Training progress for people: step, epoch, loss, elapsed time and ETA, plus a JSONL log of every record.

Example::

    from pathlib import Path
    from finetune.progress import progress_callback

    callback = progress_callback(Path("out/training_log.jsonl"), print)  # pass to Trainer(callbacks=[...])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def progress_callback(log_path: Path, echo: Callable[[str], None]):
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        """Prints step, epoch, loss and ETA; appends every log record to training_log.jsonl."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()
            echo(f"training: {state.max_steps} steps, {args.num_train_epochs:g} epochs")

        def on_log(self, args, state, control, logs=None, **kwargs):
            record = {"step": state.global_step, "epoch": state.epoch, **(logs or {})}
            with log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            elapsed = time.monotonic() - self.start
            done = max(state.global_step, 1)
            eta = elapsed / done * (state.max_steps - state.global_step)
            loss = logs.get("loss") if logs else None
            loss_text = f" loss {loss:.4f}" if isinstance(loss, int | float) else ""
            echo(
                f"step {state.global_step}/{state.max_steps} epoch {state.epoch or 0:.2f}{loss_text} "
                f"elapsed {elapsed:.0f}s eta {eta:.0f}s"
            )

    return ProgressCallback()
