"""The only clock: today and now in America/Lima, month names and the ways Peru writes dates and periods.

Pure (no I/O beyond reading the system clock). Every use of "today" or "now" in the product goes through
``today_lima()`` / ``now_lima()``: the server runs in UTC, and from 19:00 in Lima the UTC date is already
tomorrow's.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")
MONTHS_SHORT = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")


def now_lima() -> datetime:
    """The current moment, aware, in Lima time."""
    return datetime.now(LIMA)


def now_utc() -> datetime:
    """The current moment, aware, in UTC (what is stored in ``timestamptz`` columns)."""
    return datetime.now(timezone.utc)


def today_lima() -> date:
    """Today's date in Lima (not the server's UTC date)."""
    return now_lima().date()


def to_lima(moment: datetime) -> datetime:
    """An aware moment seen in Lima; a naive one is taken as UTC (how the database hands them back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(LIMA)


def format_date(value: date | None) -> str:
    """dd/mm/aaaa, as Peruvian offices write a date."""
    return value.strftime("%d/%m/%Y") if value else ""


def format_moment(value: datetime | None, *, seconds: bool = False) -> str:
    """dd/mm/aaaa hh:mm (Lima time) for a stored moment; with ``seconds`` also :ss."""
    if value is None:
        return ""
    return to_lima(value).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def period_in_prose(month_start: date) -> str:
    """«noviembre de 2026»: a period (month) in running text."""
    return f"{MONTHS[month_start.month - 1]} de {month_start.year}"


def period_in_table(month_start: date) -> str:
    """«11/2026»: a period (month) in a table cell."""
    return f"{month_start.month:02d}/{month_start.year}"
