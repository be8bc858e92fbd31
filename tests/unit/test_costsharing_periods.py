"""The period's state machine and its observation window in working days (Peru's holidays, corrected)."""

from __future__ import annotations

from datetime import date

import pytest

from app.costsharing.periods import add_working_days, check_transition, peru_holidays
from app.errors import Conflict, Forbidden


def test_easter_sunday_is_not_a_holiday_but_maundy_thursday_and_good_friday_are():
    days = peru_holidays(2026)
    assert date(2026, 4, 5) not in days  # Easter Sunday: the `holidays` package lists it, the law does not
    assert {date(2026, 4, 2), date(2026, 4, 3), date(2026, 12, 8), date(2026, 12, 9)} <= days


def test_the_window_counts_working_days_skipping_weekends_and_holidays():
    assert add_working_days(date(2026, 12, 4), 10) == date(2026, 12, 22)  # 8 and 9 December are holidays
    assert add_working_days(date(2026, 3, 31), 3) == date(2026, 4, 7)  # 1 Apr, (2–3 Apr Holy Week), 6 and 7 Apr
    assert add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)


@pytest.mark.parametrize(("action", "state", "target"), [
    ("calcular", "borrador", "calculado"), ("calcular", "calculado", "calculado"),
    ("publicar", "calculado", "publicado"), ("cerrar", "publicado", "cerrado"), ("modificar", "calculado", "borrador"),
])
def test_allowed_transitions(action, state, target):
    assert check_transition(action, state, "coordinador_centro") == target


@pytest.mark.parametrize(("action", "state"), [("publicar", "borrador"), ("cerrar", "calculado"),
                                               ("calcular", "publicado"), ("modificar", "publicado")])
def test_illegal_transitions_are_refused_with_the_reason(action, state):
    with pytest.raises(Conflict, match="No se puede"):
        check_transition(action, state, "coordinador_centro")


@pytest.mark.parametrize("action", ["calcular", "publicar", "cerrar", "modificar"])
def test_a_closed_period_never_moves(action):
    with pytest.raises(Conflict, match="cerrado"):
        check_transition(action, "cerrado", "coordinador_centro")


@pytest.mark.parametrize("role", ["finanzas", "gestor_entidad", "supervisor_sgp"])
def test_only_the_coordinator_moves_a_period(role):
    with pytest.raises(Forbidden):
        check_transition("publicar", "calculado", role)
