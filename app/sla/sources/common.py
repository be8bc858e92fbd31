"""What the source formats share (pure): name normalisation, reading a table file (CSV or XLSX) into rows of
text, local times to aware moments, and the import result with the counts every source reports.

The counts (``leidos``, ``importados``, ``actualizados``, ``sin_cambios``, ``abiertos``, ``cancelados``,
``sin_mapeo``, ``rechazados``) are of the rows read in one run, so a file import and a queue-database sync
read the same way.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.errors import ValidationFailed

LIMA = ZoneInfo("America/Lima")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
COUNT_KEYS = ("leidos", "importados", "actualizados", "sin_cambios", "abiertos", "cancelados", "sin_mapeo",
              "rechazados")
XLSX_MAGIC = b"PK\x03\x04"
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DURATION = re.compile(r"(\d{1,4}):(\d{2})(?::(\d{2}))?")


def normalise(value: object) -> str:
    """Case, accents, punctuation and runs of spaces do not matter: «Atención  Cerrada» = «atencion cerrada»."""
    return _normalise(str(value or ""))


@lru_cache(maxsize=8192)  # an export repeats a few dozen entity, service and state names
def _normalise(value: str) -> str:
    text = unicodedata.normalize("NFKD", value)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^0-9a-zñ]+", " ", text.replace("°", " ").replace("º", " "))
    return " ".join(text.split())


@dataclass
class RowWarning:
    line: int
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"linea": self.line, "campo": self.field, "motivo": self.reason}


@dataclass
class SourceResult:
    """The result of one import of a source format: the counts, the rejected rows and the warnings."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    errors: list = field(default_factory=list)  # app.sla.ingest.RowError
    warnings: list[RowWarning] = field(default_factory=list)
    batch_id: object = None
    touched_days: set[date] = field(default_factory=set)

    def summary(self) -> dict:
        return {"conteos": dict(self.counts), "avisos": [w.as_dict() for w in self.warnings[:10_000]]}


# --------------------------------------------------------------------------------------- reading files ---


def check_size(data: bytes) -> None:
    if not data:
        raise ValidationFailed("Adjunte un archivo.", field="archivo")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(f"El archivo supera {MAX_FILE_BYTES // (1024 * 1024)} MB; divídalo.", field="archivo")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM); national exports saved by Excel may be Windows-1252, accepted too. A NUL
    byte means it is not a text file."""
    if b"\x00" in data:
        raise ValidationFailed("El archivo no es un texto CSV (contiene bytes nulos).", field="archivo")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def csv_rows(data: bytes, *, delimiters: str = ",;\t") -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of a CSV text, header included (line 1); the delimiter is the header's most frequent."""
    text = decode_text(data)
    first = text.split("\n", 1)[0]
    delimiter = max(delimiters, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for cells in reader:
        yield reader.line_num, cells


def xlsx_rows(data: bytes, *, max_rows: int = MAX_ROWS) -> Iterator[tuple[int, list[object]]]:
    """(line, cells) of the first sheet of an XLSX workbook, read in streaming mode (openpyxl ``read_only``:
    memory stays flat however long the sheet); stops after ``max_rows`` data rows and raises."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged or foreign file
        raise ValidationFailed("El archivo XLSX no se puede leer (¿está dañado o es otro formato?).",
                               field="archivo") from None
    try:
        sheet = book.worksheets[0]
        for n, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if n > max_rows + 1:
                raise ValidationFailed(f"El archivo tiene más de {max_rows:,} filas; divídalo.".replace(",", "."),
                                       field="archivo")
            yield n, list(row)
    finally:
        book.close()


def table_rows(data: bytes, filename: str | None = None) -> Iterator[tuple[int, list[object]]]:
    """CSV or XLSX, told apart by content (an XLSX is a ZIP)."""
    check_size(data)
    if data.startswith(XLSX_MAGIC):
        yield from xlsx_rows(data)
        return
    if (filename or "").lower().endswith((".xlsx", ".xlsm")):
        raise ValidationFailed("El archivo no es un XLSX válido.", field="archivo")
    for n, (line, cells) in enumerate(csv_rows(data), start=1):
        if n > MAX_ROWS + 1:
            raise ValidationFailed(f"El archivo tiene más de {MAX_ROWS:,} filas; divídalo.".replace(",", "."),
                                   field="archivo")
        yield line, cells


# ------------------------------------------------------------------------------------ dates and times ---


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_day(value: object) -> date | None:
    """dd/mm/aaaa or aaaa-mm-dd (or a spreadsheet date); None when it is neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _parse_day(cell_text(value))


@lru_cache(maxsize=4096)  # a file holds a few dozen dates
def _parse_day(text: str) -> date | None:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    # aaaa-mm-dd followed by a midnight time, as some exports write a date
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]00:00(:00)?", text):
        return _parse_day(text[:10])
    return None


def parse_clock(value: object) -> time | None:
    """HH:MM:SS (or HH:MM, or a spreadsheet time); None when it is not a time of day."""
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    return _parse_clock(cell_text(value))


@lru_cache(maxsize=65536)  # at most 86,400 times of day
def _parse_clock(text: str) -> time | None:
    m = _CLOCK.fullmatch(text)
    if not m:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return time(h, mi, s)


def parse_duration(value: object) -> timedelta | None:
    """HH:MM:SS (hours may pass 24), a spreadsheet time or duration; None when empty or not a duration."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, time):
        return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
    return _parse_duration(cell_text(value))


@lru_cache(maxsize=65536)
def _parse_duration(text: str) -> timedelta | None:
    m = _DURATION.fullmatch(text)
    if not m or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        return None
    return timedelta(hours=int(m.group(1)), minutes=int(m.group(2)), seconds=int(m.group(3) or 0))


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def local_moment(day: date, clock: time, zone: ZoneInfo = LIMA) -> datetime:
    """A naive local date and time of the source, as an aware moment."""
    return datetime.combine(day, clock, zone)


def parse_local_timestamp(value: object, zone: ZoneInfo = LIMA) -> datetime | None:
    """A clock's punch time: aaaa-mm-dd HH:MM:SS (naive: the source's local time; with an offset: as given)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text = cell_text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?", text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
