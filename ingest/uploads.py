"""Files people upload (the app's Knowledge page, the HTTP API's POST /v1/documents): safe names.

>>> safe_filename("../../etc/hr leave?.md")
'hr leave_.md'
"""

from __future__ import annotations

import re
from pathlib import Path

from config.errors import DocentError

SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadNameError(DocentError, ValueError):
    """An uploaded file's name has nothing usable left once folders and odd characters are removed."""


def safe_filename(name: str) -> str:
    """An uploaded file's name without folders or odd characters ('../../x.md' -> 'x.md')."""
    base = Path(str(name).replace("\\", "/")).name
    cleaned = SAFE_NAME.sub("_", base).strip(" .")
    if not cleaned:
        raise UploadNameError(f"the file name {name!r} has no usable characters; rename the file and upload it again.")
    return cleaned
