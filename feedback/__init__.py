"""Turns, feedback and Q&A pairs: records, stores (SQLite, DynamoDB, outbox) and export."""
