"""The ANS indicators, checked against examples worked out by hand (domain brief §4)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.sla.calendar import LIMA, Calendar, OpeningHours, peru_national_holidays
from app.sla.indicators import (
    ClockIn,
    DailyPoint,
    EntityDay,
    Interruption,
    Segment,
    ServiceDay,
    ServiceLimit,
    Survey,
    Target,
    evaluate,
    limit_in_force,
    measure,
    period_results,
    project,
    sum_entity_days,
    sum_service_days,
    tally_entity_days,
    tally_service_days,
)

WEEKDAYS = [OpeningHours(d, time(8, 0), time(16, 45)) for d in range(5)] + [OpeningHours(5, time(8, 0),
                                                                                        time(13, 45))]
CAL = Calendar.build(WEEKDAYS)


def at(day: str, hhmm: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(hhmm), LIMA)


def ticket(tid, day, issued, called=None, started=None, ended=None, outcome="attended", service="S",
           entity="E", segment=1):
    return Segment(tid, entity, service, at(day, issued), outcome,
                   at(day, called) if called else None, at(day, started) if started else None,
                   at(day, ended) if ended else None, segment)


LIMITS = {"S": [ServiceLimit("S", max_wait_minutes=20, max_attention_minutes=15)]}


def totals(segments, surveys=(), limits=LIMITS, calendar=CAL, interruptions=()):
    return sum_service_days(tally_service_days(segments, surveys, limits, calendar, interruptions).values())


# ---------------------------------------------------------------------------------------------- calendar ---

def test_peru_holidays_follow_the_brief_and_leave_out_easter_sunday():
    days = peru_national_holidays(2025)
    assert date(2025, 4, 17) in days  # Jueves Santo
    assert date(2025, 4, 18) in days  # Viernes Santo
    assert date(2025, 4, 20) not in days  # Domingo de Resurrección: not a holiday in Peru's law
    for d in ("01-01", "05-01", "06-07", "06-29", "07-23", "07-28", "07-29", "08-06", "08-30", "10-08", "11-01",
              "12-08", "12-09", "12-25"):
        assert date.fromisoformat(f"2025-{d}") in days, d
    assert len(days) == 16


def test_a_centre_open_on_sundays_works_on_easter_sunday_but_not_on_good_friday():
    cal = Calendar.build([OpeningHours(d, time(9, 0), time(13, 0)) for d in range(7)])
    assert cal.is_working_day(date(2025, 4, 20))
    assert not cal.is_working_day(date(2025, 4, 18))


def test_working_days_skip_sundays_holidays_dias_no_laborables_and_closures():
    cal = Calendar.build(WEEKDAYS, non_working_days={date(2025, 7, 25), date(2025, 7, 26)})
    # 21–31 July 2025: Mon 21 .. Thu 31; 23 (holiday), 25 (no laborable), 26 (closure), 27 (Sunday),
    # 28 and 29 (holidays) are out.
    assert cal.working_days(date(2025, 7, 21), date(2025, 7, 31)) == [
        date(2025, 7, 21), date(2025, 7, 22), date(2025, 7, 24), date(2025, 7, 30), date(2025, 7, 31)]


def test_opening_hours_are_effective_dated():
    cal = Calendar.build([OpeningHours(0, time(8, 0), time(16, 45)),
                          OpeningHours(0, time(9, 0), time(17, 0), valid_from=date(2025, 3, 10))])
    assert cal.hours_on(date(2025, 3, 3)) == (time(8, 0), time(16, 45))
    assert cal.hours_on(date(2025, 3, 10)) == (time(9, 0), time(17, 0))
    assert cal.hours_on(date(2025, 3, 11)) is None  # no Tuesday hours: closed


# ------------------------------------------------------------------------------------- ticket indicators ---

def test_espera_counts_attended_tickets_within_the_maximum_wait():
    t = totals([
        ticket("1", "2025-03-03", "09:00", "09:20", "09:20", "09:30"),  # waited exactly 20: ok
        ticket("2", "2025-03-03", "09:00", "09:21", "09:21", "09:40"),  # 21: late; handled 19: too long
        ticket("3", "2025-03-03", "09:00", outcome="abandoned"),
    ])
    assert measure("espera", t, EntityDay()).value == Decimal("0.5000")
    assert (t.waits_ok, t.waits) == (1, 2)
    assert measure("atencion", t, EntityDay()).value == Decimal("0.5000")
    assert measure("abandono", t, EntityDay()).value == Decimal("0.3333")


def test_a_recalled_ticket_waits_until_its_last_call():
    # Called at 09:10, absent, called again at 09:25: the wait is 25 minutes, over the limit of 20.
    t = totals([ticket("1", "2025-03-03", "09:00", called="09:25", started="09:26", ended="09:30")])
    assert (t.waits_ok, t.waits) == (0, 1)


def test_tickets_issued_on_a_holiday_do_not_count():
    t = totals([ticket("1", "2025-04-17", "09:00", "09:50", "09:50", "09:55"),  # Jueves Santo
                ticket("2", "2025-04-16", "09:00", "09:05", "09:05", "09:10")])
    assert (t.waits_ok, t.waits, t.issued) == (1, 1, 1)


def test_the_limit_in_force_on_the_tickets_date_applies_when_it_changes_mid_month():
    limits = {"S": [ServiceLimit("S", 20, 15), ServiceLimit("S", 10, 15, valid_from=date(2025, 3, 16))]}
    assert limit_in_force(limits["S"], date(2025, 3, 15)).max_wait_minutes == 20
    assert limit_in_force(limits["S"], date(2025, 3, 16)).max_wait_minutes == 10
    t = totals([ticket("1", "2025-03-14", "09:00", "09:15", "09:15", "09:20"),  # 15 ≤ 20: ok
                ticket("2", "2025-03-17", "09:00", "09:15", "09:15", "09:20")],  # 15 > 10: late
               limits=limits)
    assert (t.waits_ok, t.waits) == (1, 2)


def test_services_that_do_not_count_and_services_without_a_limit_are_left_out():
    limits = {"S": [ServiceLimit("S", 20, 15, counts=False)]}
    t = totals([ticket("1", "2025-03-03", "09:00", "09:05", "09:05", "09:06"),
                ticket("2", "2025-03-03", "09:00", "09:05", "09:05", "09:06", service="OTRO")], limits=limits)
    assert t.issued == 0 and t.waits == 0


def test_a_transferred_ticket_is_measured_per_segment_against_each_services_limit():
    limits = {"A": [ServiceLimit("A", 20, 15)], "B": [ServiceLimit("B", 5, 15)]}
    days = tally_service_days([
        ticket("1", "2025-03-03", "09:00", "09:10", "09:10", "09:20", outcome="transferred", service="A",
               entity="RENIEC"),
        # The second segment waits from the transfer (09:20) to its call (09:30): 10 > 5.
        ticket("1", "2025-03-03", "09:20", "09:30", "09:30", "09:35", service="B", entity="SUNAT", segment=2),
    ], [], limits, CAL)
    a = days[("RENIEC", "A", date(2025, 3, 3))]
    b = days[("SUNAT", "B", date(2025, 3, 3))]
    assert (a.issued, a.waits_ok, a.waits, a.handled_ok) == (1, 1, 1, 1)
    assert (b.issued, b.waits_ok, b.waits, b.handled_ok) == (1, 0, 1, 1)


def test_an_interruption_attributable_to_the_administering_entity_is_excluded_from_the_participant():
    outage = Interruption(at("2025-03-03", "10:00"), at("2025-03-03", "11:00"), "administradora")
    t = totals([
        ticket("1", "2025-03-03", "09:00", "09:10", "09:10", "09:20"),  # before: counts, ok
        ticket("2", "2025-03-03", "09:50", "10:40", "10:40", "10:50"),  # waited through the outage: excluded
        ticket("3", "2025-03-03", "10:30", outcome="abandoned"),  # left during the outage: excluded
    ], interruptions=[outage])
    assert (t.issued, t.waits_ok, t.waits, t.abandoned, t.excluded) == (1, 1, 1, 0, 2)


def test_an_interruption_of_the_entity_itself_is_not_excluded():
    own = Interruption(at("2025-03-03", "10:00"), at("2025-03-03", "11:00"), "entidad", entity="E")
    t = totals([ticket("2", "2025-03-03", "09:50", "10:40", "10:40", "10:50")], interruptions=[own])
    assert (t.waits_ok, t.waits) == (0, 1)


def test_satisfaccion_is_the_share_of_scores_of_four_or_five():
    surveys = [Survey("E", "S", at("2025-03-03", "10:00"), s) for s in (5, 4, 3, 1)]
    assert measure("satisfaccion", totals([], surveys), EntityDay()).value == Decimal("0.5000")


def test_the_waiting_time_histogram_has_five_minute_buckets_and_an_open_last_one():
    t = totals([ticket("1", "2025-03-03", "09:00", "09:04"), ticket("2", "2025-03-03", "09:00", "09:05"),
                ticket("3", "2025-03-03", "09:00", "10:30")])
    assert t.wait_histogram[0] == 1 and t.wait_histogram[1] == 1 and t.wait_histogram[12] == 1


# ------------------------------------------------------------------------------------ module indicators ---

def test_puntualidad_and_ocupabilidad_per_module_and_working_day():
    modules = [("E", "M01"), ("E", "M02")]
    clock_ins = [ClockIn("E", "M01", at("2025-03-03", "08:15:59")),  # on time (08:15 after truncation)
                 ClockIn("E", "M01", at("2025-03-03", "07:50")),  # the first one counts
                 ClockIn("E", "M01", at("2025-03-04", "08:16")),  # late
                 ClockIn("E", "M02", at("2025-03-04", "08:00"))]
    days = tally_entity_days(modules, clock_ins, [], CAL, date(2025, 3, 3), date(2025, 3, 4))
    total = sum_entity_days(days.values())
    # 2 modules × 2 working days = 4 pairs, 3 occupied; of those, 2 on time.
    assert measure("ocupabilidad", ServiceDay(), total).value == Decimal("0.7500")
    assert measure("puntualidad", ServiceDay(), total).value == Decimal("0.6667")


def test_an_outage_of_the_administering_entity_at_opening_time_excuses_late_clock_ins():
    modules = [("E", "M01")]
    power_cut = Interruption(at("2025-03-03", "07:30"), at("2025-03-03", "08:40"), "administradora")
    days = tally_entity_days(modules, [ClockIn("E", "M01", at("2025-03-03", "08:45"))], [power_cut], CAL,
                             date(2025, 3, 3), date(2025, 3, 3))
    day = days[("E", date(2025, 3, 3))]
    assert (day.module_days_checked, day.module_days, day.module_days_occupied) == (0, 1, 1)


def test_interruption_minutes_count_only_within_opening_hours():
    down = Interruption(at("2025-03-03", "16:00"), at("2025-03-04", "09:00"), "entidad", entity="E")
    days = tally_entity_days([], [], [down], CAL, date(2025, 3, 3), date(2025, 3, 4))
    m = measure("interrupcion", ServiceDay(), sum_entity_days(days.values()), 2)
    # 16:00–16:45 on Monday and 08:00–09:00 on Tuesday: 105 minutes in two periods, over two working days.
    assert (m.value, m.numerator, m.denominator) == (Decimal("105.0000"), 2, 2)


# ----------------------------------------------------------------------------------------------- statuses ---

def test_below_the_minimum_sample_there_is_no_verdict():
    target = Target("espera", ">=", Decimal("0.90"), min_sample=30)
    t = totals([ticket(str(i), "2025-03-03", "09:00", "09:05") for i in range(29)])
    assert evaluate(target, measure("espera", t, EntityDay())) == "sin_datos"


def test_an_empty_month_gives_sin_datos_for_ratios_and_zero_minutes_of_interruption():
    targets = {"E": [Target(i, ">=" if i != "interrupcion" else "<=", Decimal("0.9") if i != "interrupcion"
                            else Decimal("60"), 1) for i in ("espera", "atencion", "abandono", "puntualidad",
                                                            "ocupabilidad", "satisfaccion", "interrupcion")]}
    results = period_results(targets, {}, {}, CAL.working_days(date(2025, 2, 1), date(2025, 2, 28)))
    by = {r.indicator: r for r in results}
    assert all(by[i].status == "sin_datos" and by[i].measure.value is None for i in by if i != "interrupcion")
    assert by["interrupcion"].status == "cumple" and by["interrupcion"].measure.value == Decimal("0.0000")
    assert by["interrupcion"].measure.denominator == 24  # Feb 2025: 20 weekdays and 4 Saturdays, no holiday


def test_en_riesgo_when_the_month_end_projection_misses_a_target_still_met():
    target = Target("espera", ">=", Decimal("0.90"), min_sample=10)
    good, bad = ServiceDay(waits=100, waits_ok=100), ServiceDay(waits=100, waits_ok=50)
    points = [DailyPoint(date(2025, 3, d), good, EntityDay()) for d in (3, 4, 5, 6)]
    points.append(DailyPoint(date(2025, 3, 7), bad, EntityDay()))
    current = measure("espera", sum_service_days(p.services for p in points), EntityDay())
    assert current.value == Decimal("0.9000")  # 450/500: meets ≥ 0.90 exactly
    # The last five days average 90/100 a day: ten more such days keep it at 0.9000.
    assert project("espera", points, 10) == Decimal("0.9000")
    assert evaluate(target, current, project("espera", points, 10)) == "cumple"

    points.append(DailyPoint(date(2025, 3, 8), ServiceDay(waits=10, waits_ok=10), EntityDay()))
    current = measure("espera", sum_service_days(p.services for p in points), EntityDay())
    assert current.value == Decimal("0.9020")  # 460/510
    # Last five days: 360/410, i.e. 72/82 a day; ten more days → (460+720)/(510+820) = 1180/1330.
    projected = project("espera", points, 10)
    assert projected == Decimal("0.8872")
    assert evaluate(target, current, projected) == "en_riesgo"
    assert evaluate(target, current, None) == "cumple"  # a closed month is never at risk


def test_a_missed_target_is_no_cumple_whatever_the_projection():
    target = Target("abandono", "<=", Decimal("0.10"))
    current = measure("abandono", ServiceDay(issued=100, abandoned=11), EntityDay())
    assert current.value == Decimal("0.1100")
    assert evaluate(target, current, Decimal("0.05")) == "no_cumple"


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=20))
def test_ratio_values_are_between_zero_and_one_with_four_places(pairs):
    total = sum_service_days(ServiceDay(waits=a + b, waits_ok=a) for a, b in pairs)
    value = measure("espera", total, EntityDay()).value
    if total.waits:
        assert Decimal(0) <= value <= Decimal(1) and value == value.quantize(Decimal("0.0001"))
    else:
        assert value is None
