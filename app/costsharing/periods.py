"""The period's state machine and its observation window (pure: no I/O).

``borrador`` → ``calculado`` → ``publicado`` → ``cerrado``. Recomputing is allowed while not published; a
change to the pool or the drivers of a computed period sends it back to ``borrador``. Only the coordinator of
the centre's administering entity moves a period; a closed period never moves again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from app.db import ROLE_COORDINADOR, ROLE_SISTEMA
from app.errors import Conflict, Forbidden

BORRADOR, CALCULADO, PUBLICADO, CERRADO = "borrador", "calculado", "publicado", "cerrado"
STATE_LABELS = {BORRADOR: "Borrador", CALCULADO: "Calculado", PUBLICADO: "Publicado", CERRADO: "Cerrado"}
EDITABLE = (BORRADOR, CALCULADO)
DEFAULT_OBSERVATION_DAYS = 10


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    label: str


TRANSITIONS = {
    t.action: t for t in (
        Transition("calcular", (BORRADOR, CALCULADO), CALCULADO, (ROLE_COORDINADOR, ROLE_SISTEMA), "Calcular"),
        Transition("publicar", (CALCULADO,), PUBLICADO, (ROLE_COORDINADOR, ROLE_SISTEMA), "Publicar"),
        Transition("cerrar", (PUBLICADO,), CERRADO, (ROLE_COORDINADOR, ROLE_SISTEMA), "Cerrar"),
        Transition("modificar", (BORRADOR, CALCULADO), BORRADOR, (ROLE_COORDINADOR, ROLE_SISTEMA), "Modificar"),
    )
}


def check_transition(action: str, state: str, role: str) -> str:
    """The state after ``action``; refuses, with the reason, what the table does not allow."""
    t = TRANSITIONS[action]
    if role not in t.roles:
        raise Forbidden(f"Solo el coordinador del centro puede «{t.label.lower()}» un periodo.")
    if state == CERRADO:
        raise Conflict("El periodo está cerrado: no se modifica. Registre las correcciones como ajustes en un"
                       " periodo abierto posterior.", code="periodo_cerrado")
    if state not in t.sources:
        allowed = " o ".join(STATE_LABELS[s].lower() for s in t.sources)
        raise Conflict(f"No se puede «{t.label.lower()}» un periodo {STATE_LABELS[state].lower()}: debe estar"
                       f" {allowed}.", code="transicion_invalida")
    return t.target


# ---------------------------------------------------------------------------------------- working days ---


@lru_cache(maxsize=32)
def peru_holidays(year: int) -> frozenset[date]:
    """Peru's national holidays from the `holidays` package, corrected: Easter Sunday is not a holiday."""
    import holidays

    found = holidays.country_holidays("PE", years=year, language="en_US")
    return frozenset(day for day, name in found.items()
                     if not all("Easter Sunday" in part for part in name.split(";")))


def is_working_day(day: date, extra_non_working: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in peru_holidays(day.year) and day not in extra_non_working


def add_working_days(start: date, days: int, extra_non_working: frozenset[date] = frozenset()) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    current = start
    counted = 0
    while counted < days:
        current += timedelta(days=1)
        if is_working_day(current, extra_non_working):
            counted += 1
    return current


def month_bounds(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return start, end


MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")


def period_label(starts_on: date) -> str:
    return f"{MONTHS[starts_on.month - 1]} {starts_on.year}"
