"""Open the store the settings choose. Kept apart from store.py (the Protocol) so backends can import
the Protocol's helpers without an import cycle."""

from __future__ import annotations

from config.settings import Settings
from feedback.store import FeedbackStore


def open_store(settings: Settings, **kwargs) -> FeedbackStore:
    """The store chosen by settings.store_backend; DynamoDB is wrapped in an outbox so no write is lost."""
    if settings.store_backend == "sqlite":
        from feedback.sqlite import SQLiteFeedbackStore

        return SQLiteFeedbackStore(settings.sqlite_path)
    if settings.store_backend == "dynamodb":
        from feedback.dynamodb import DynamoDBFeedbackStore
        from feedback.outbox import OutboxStore

        inner = DynamoDBFeedbackStore.from_settings(settings, **kwargs)
        return OutboxStore(inner, settings.data_dir / "outbox.sqlite3")
    raise ValueError(f"DOCENT_STORE_BACKEND={settings.store_backend!r} is unknown; use sqlite or dynamodb.")
