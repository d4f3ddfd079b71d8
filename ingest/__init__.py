"""Ingestion: converters (X-to-Document), parent/child splitting, incremental index sync."""
