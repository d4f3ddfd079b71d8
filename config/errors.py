"""One base for every error a person can cause or fix.

Each subclass's message names the input, what was wrong and what to do. The CLI (cli/main.py),
the app and the HTTP API show the message and never a traceback.

>>> from config.errors import DocentError
>>> class DiskFull(DocentError):
...     pass
>>> str(DiskFull("data/ is full: free some space or set DOCENT_DATA_DIR elsewhere."))
'data/ is full: free some space or set DOCENT_DATA_DIR elsewhere.'
"""

from __future__ import annotations


class DocentError(Exception):
    """An error whose message tells a person what went wrong and how to fix it."""
