"""A centre's working calendar (pure: no I/O).

A day is a *working day* of a centre when all of these hold:

1. the centre has opening hours for that weekday in force on that date (opening hours are effective-dated:
   for each weekday the row with the latest ``valid_from`` not after the date applies);
2. it is not a Peruvian national holiday (:func:`peru_national_holidays`);
3. it is not a *día no laborable* declared by decree for that year (data, passed in);
4. it is not a closure of that centre (data, passed in).

Times are local to the centre (America/Lima).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")

# The national holidays of the domain brief (§4), as the `holidays` package names them. The package also
# lists Easter Sunday, which is not a public holiday in Peru's law (it is a Sunday anyway, but a centre that
# opens on Sundays must not lose it), so it is left out; anything else the package adds in future years is
# left out too until the brief says otherwise.
NATIONAL_HOLIDAY_NAMES = frozenset({
    "New Year's Day",
    "Maundy Thursday",
    "Good Friday",
    "Labor Day",
    "Battle of Arica and Flag Day",
    "Saint Peter and Saint Paul's Day",
    "Peruvian Air Force Day",
    "Independence Day",
    "Great Military Parade Day",
    "Battle of Junín Day",
    "Rose of Lima Day",
    "Battle of Angamos Day",
    "All Saints' Day",
    "Immaculate Conception",
    "Battle of Ayacucho Day",
    "Christmas Day",
})


@lru_cache(maxsize=64)
def peru_national_holidays(year: int) -> frozenset[date]:
    """Peru's national holidays of ``year``: the `holidays` package's list, corrected (no Easter Sunday)."""
    import holidays

    found = holidays.country_holidays("PE", years=year, language="en_US")
    days = set()
    for day, names in found.items():
        if any(name.strip() in NATIONAL_HOLIDAY_NAMES for name in names.split(";")):
            days.add(day)
    return frozenset(days)


@dataclass(frozen=True)
class OpeningHours:
    """Hours for one weekday (0 = lunes) from ``valid_from`` on (a later row for the weekday supersedes it)."""

    weekday: int
    opens_at: time
    closes_at: time
    valid_from: date = date(1900, 1, 1)


@dataclass(frozen=True)
class Calendar:
    """Opening hours (effective-dated), plus the days that are not worked."""

    opening_hours: tuple[OpeningHours, ...]
    non_working_days: frozenset[date] = field(default_factory=frozenset)  # días no laborables + closures
    include_national_holidays: bool = True

    @classmethod
    def build(cls, opening_hours: Iterable[OpeningHours], non_working_days: Iterable[date] = (),
              include_national_holidays: bool = True) -> Calendar:
        return cls(tuple(sorted(opening_hours, key=lambda h: (h.weekday, h.valid_from))),
                   frozenset(non_working_days), include_national_holidays)

    def hours_on(self, day: date) -> tuple[time, time] | None:
        """Opening and closing time in force on ``day`` for its weekday, whether or not it is a holiday."""
        current = None
        for row in self.opening_hours:
            if row.weekday == day.weekday() and row.valid_from <= day:
                current = row  # sorted by valid_from: the last match is the one in force
        return (current.opens_at, current.closes_at) if current else None

    def is_holiday(self, day: date) -> bool:
        if day in self.non_working_days:
            return True
        return self.include_national_holidays and day in peru_national_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return self.hours_on(day) is not None and not self.is_holiday(day)

    def working_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """The opening interval of a working day as aware datetimes (Lima), else None."""
        if not self.is_working_day(day):
            return None
        opens, closes = self.hours_on(day)  # type: ignore[misc]
        return datetime.combine(day, opens, LIMA), datetime.combine(day, closes, LIMA)

    def working_days(self, start: date, end: date) -> list[date]:
        """Working days from ``start`` to ``end``, both included."""
        days = []
        day = start
        while day <= end:
            if self.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        return days

    def is_open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(LIMA)
        hours = self.working_hours(local.date())
        return hours is not None and hours[0] <= local < hours[1]


def local_date(moment: datetime) -> date:
    """The date in Lima of an aware timestamp."""
    return moment.astimezone(LIMA).date()


def month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return first, next_month - timedelta(days=1)
