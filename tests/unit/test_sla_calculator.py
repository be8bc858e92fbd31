"""`mac sla compliance --input case.json`: the offline calculator an auditor re-runs a month with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.sla.calculator import CaseError, run_case

RENIEC, SUNAT = "20295613620", "20131312955"


def case(**overrides) -> dict:
    """March 2025 at a centre open Mon–Fri 08:00–16:45 and Sat 08:00–13:45, with one declared holiday."""
    doc = {
        "period": {"start": "2025-03-01", "end": "2025-03-31"},
        "timezone": "America/Lima",
        "calendar": {"opening_hours": {d: ["08:00", "16:45"] for d in ("mon", "tue", "wed", "thu", "fri")}
                     | {"sat": ["08:00", "13:45"]},
                     "holidays": ["2025-03-14"]},
        "punctuality_tolerance_minutes": 15,
        "services": [{"code": "DNI", "entity_ruc": RENIEC, "max_wait_minutes": 20, "max_attention_minutes": 15,
                      "counts": True},
                     {"code": "DNI", "entity_ruc": RENIEC, "max_wait_minutes": 10, "max_attention_minutes": 15,
                      "counts": True, "valid_from": "2025-03-17"},
                     {"code": "RUC", "entity_ruc": SUNAT, "max_wait_minutes": 30, "max_attention_minutes": 20,
                      "counts": True}],
        "modules": [{"code": "M01", "entity_ruc": RENIEC}, {"code": "M02", "entity_ruc": SUNAT}],
        "targets": [{"entity_ruc": RENIEC, "indicator": "espera", "comparison": ">=", "target": "0.50",
                     "min_sample": 3},
                    {"entity_ruc": RENIEC, "indicator": "abandono", "comparison": "<=", "target": "0.10",
                     "min_sample": 3},
                    {"entity_ruc": SUNAT, "indicator": "espera", "comparison": ">=", "target": "0.90",
                     "min_sample": 3},
                    {"entity_ruc": RENIEC, "indicator": "puntualidad", "comparison": ">=", "target": "0.90",
                     "min_sample": 1},
                    {"entity_ruc": RENIEC, "indicator": "satisfaccion", "comparison": ">=", "target": "0.80",
                     "min_sample": 1}],
        "tickets": [
            # 20-minute limit: 15 minutes is on time.
            {"id": "A1", "service": "DNI", "module": "M01", "issued_at": "2025-03-10T09:00:00-05:00",
             "called_at": "2025-03-10T09:15:00-05:00", "started_at": "2025-03-10T09:15:00-05:00",
             "ended_at": "2025-03-10T09:25:00-05:00", "outcome": "attended"},
            # Holiday of the calendar: not counted at all.
            {"id": "A2", "service": "DNI", "module": "M01", "issued_at": "2025-03-14T09:00:00-05:00",
             "called_at": "2025-03-14T10:00:00-05:00", "started_at": "2025-03-14T10:00:00-05:00",
             "ended_at": "2025-03-14T10:05:00-05:00", "outcome": "attended"},
            # From 17 March the limit is 10 minutes: 15 is late.
            {"id": "A3", "service": "DNI", "module": "M01", "issued_at": "2025-03-18T09:00:00-05:00",
             "called_at": "2025-03-18T09:15:00-05:00", "started_at": "2025-03-18T09:15:00-05:00",
             "ended_at": "2025-03-18T09:20:00-05:00", "outcome": "attended"},
            # Recalled: the last call (09:08 UTC-5, i.e. 14:08Z) is 8 minutes after issue: on time.
            {"id": "A4", "service": "DNI", "module": "M01", "issued_at": "2025-03-19T14:00:00Z",
             "called_at": "2025-03-19T14:08:00Z", "started_at": "2025-03-19T14:09:00Z",
             "ended_at": "2025-03-19T14:12:00Z", "outcome": "attended"},
            {"id": "A5", "service": "DNI", "issued_at": "2025-03-20T09:00:00-05:00", "outcome": "abandoned"},
            {"id": "B1", "service": "RUC", "module": "M02", "issued_at": "2025-03-10T09:00:00-05:00",
             "called_at": "2025-03-10T09:05:00-05:00", "started_at": "2025-03-10T09:05:00-05:00",
             "ended_at": "2025-03-10T09:10:00-05:00", "outcome": "attended"},
        ],
        "clock_ins": [{"module": "M01", "at": "2025-03-10T08:10:00-05:00"},
                      {"module": "M01", "at": "2025-03-11T08:16:00-05:00"}],
        "surveys": [{"service": "DNI", "at": "2025-03-10T09:30:00-05:00", "score": 5},
                    {"service": "DNI", "at": "2025-03-10T09:31:00-05:00", "score": 3}],
    }
    doc.update(overrides)
    return doc


def results_by(doc: dict) -> dict[tuple[str, str], dict]:
    return {(r["entity_ruc"], r["indicator"]): r for r in run_case(doc)["results"]}


def test_a_month_worked_by_hand():
    r = results_by(case())
    # Espera RENIEC: A1 ok, A2 holiday, A3 late (new limit), A4 ok after recall → 2/3.
    assert r[(RENIEC, "espera")] == {"entity_ruc": RENIEC, "indicator": "espera", "value": "0.6667",
                                     "numerator": 2, "denominator": 3, "target": "0.50", "status": "cumple"}
    # Abandono: A5 out of A1, A3, A4, A5 → 1/4 = 0.25 > 0.10.
    assert (r[(RENIEC, "abandono")]["value"], r[(RENIEC, "abandono")]["status"]) == ("0.2500", "no_cumple")
    # SUNAT: one ticket, below the minimum sample of 3.
    assert r[(SUNAT, "espera")]["status"] == "sin_datos"
    assert (r[(SUNAT, "espera")]["numerator"], r[(SUNAT, "espera")]["denominator"]) == (1, 1)
    # Puntualidad: 08:10 on time, 08:16 late → 1/2.
    assert (r[(RENIEC, "puntualidad")]["value"], r[(RENIEC, "puntualidad")]["status"]) == ("0.5000", "no_cumple")
    assert r[(RENIEC, "satisfaccion")]["value"] == "0.5000"


def test_an_interruption_attributable_to_the_administering_entity_is_left_out():
    doc = case(interruptions=[{"start": "2025-03-18T08:30:00-05:00", "end": "2025-03-18T09:10:00-05:00",
                               "attributable_to": "administradora", "cause": "corte de energía"}])
    r = results_by(doc)
    assert (r[(RENIEC, "espera")]["numerator"], r[(RENIEC, "espera")]["denominator"]) == (2, 2)
    assert r[(RENIEC, "espera")]["value"] == "1.0000"


def test_an_empty_month():
    r = results_by(case(tickets=[], clock_ins=[], surveys=[]))
    assert {v["status"] for v in r.values()} == {"sin_datos"}
    assert r[(RENIEC, "espera")]["value"] is None


def test_timestamps_without_an_offset_are_refused_with_a_clear_error():
    doc = case()
    doc["tickets"][0]["issued_at"] = "2025-03-10T09:00:00"
    with pytest.raises(CaseError, match=r"tickets\[0\]\.issued_at.*zona horaria"):
        run_case(doc)


def test_unknown_services_and_indicators_are_refused():
    doc = case()
    doc["tickets"][0]["service"] = "NO-EXISTE"
    with pytest.raises(CaseError, match="NO-EXISTE"):
        run_case(doc)
    doc = case()
    doc["targets"][0]["indicator"] = "rapidez"
    with pytest.raises(CaseError, match="rapidez"):
        run_case(doc)


def test_the_command_line_prints_json_results_and_refuses_naive_timestamps(tmp_path: Path):
    good = tmp_path / "caso.json"
    good.write_text(json.dumps(case()))
    out = subprocess.run([sys.executable, "-m", "app.cli", "sla", "compliance", "--input", str(good)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == run_case(case())
    bad_doc = case()
    bad_doc["surveys"][0]["at"] = "2025-03-10 09:30"
    bad = tmp_path / "malo.json"
    bad.write_text(json.dumps(bad_doc))
    out = subprocess.run([sys.executable, "-m", "app.cli", "sla", "compliance", "--input", str(bad)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert "surveys[0].at" in out.stderr and "zona horaria" in out.stderr and not out.stdout


def test_effective_dated_modules_per_entity_tolerance_and_hours_that_change_are_read_as_the_platform_keeps_them():
    doc = case(
        targets=[{"entity_ruc": RENIEC, "indicator": "ocupabilidad", "comparison": ">=", "target": "0.50"},
                 {"entity_ruc": RENIEC, "indicator": "puntualidad", "comparison": ">=", "target": "0.50"}],
        # M01 is RENIEC's only until the 11th; M03 from the 20th on.
        modules=[{"code": "M01", "entity_ruc": RENIEC, "valid_to": "2025-03-11"},
                 {"code": "M03", "entity_ruc": RENIEC, "valid_from": "2025-03-20", "valid_to": "2025-03-20"}],
        clock_ins=[{"module": "M01", "entity_ruc": RENIEC, "at": "2025-03-10T08:10:00-05:00"},
                   {"module": "M01", "entity_ruc": RENIEC, "at": "2025-03-11T08:16:00-05:00"},
                   {"module": "M01", "entity_ruc": RENIEC, "at": "2025-03-12T08:00:00-05:00"},  # no longer its
                   {"module": "M03", "entity_ruc": RENIEC, "at": "2025-03-20T09:10:00-05:00"}],
        punctuality_tolerance_by_entity={RENIEC: 16},
    )
    # From the 20th the centre opens at 09:00 (a change of hours within the month).
    doc["calendar"]["opening_hours_from"] = [{"valid_from": "2025-03-17", "opening_hours": {
        d: ["09:00", "16:45"] for d in ("mon", "tue", "wed", "thu", "fri")}}]
    r = results_by(doc)
    # Module-days: 1–11 March (9 working days: Sat 1, Mon 3 … Sat 8, Mon 10, Tue 11) + 20 March = 10, of which 3
    # with a clock-in; on time with 16 minutes of tolerance: 08:10, 08:16 and 09:10 (opening 09:00 that day).
    assert (r[(RENIEC, "ocupabilidad")]["numerator"], r[(RENIEC, "ocupabilidad")]["denominator"]) == (3, 10)
    assert (r[(RENIEC, "puntualidad")]["numerator"], r[(RENIEC, "puntualidad")]["denominator"]) == (3, 3)
    with pytest.raises(CaseError, match="valid_to es anterior a valid_from"):
        run_case(case(modules=[{"code": "M01", "entity_ruc": RENIEC, "valid_from": "2025-03-10",
                                "valid_to": "2025-03-09"}]))
