"""Typed settings for Docent (see settings.py)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
