"""`mac costs allocate --input case.json`: the offline calculator prints the issue's JSON format."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUNAT, RENIEC, CALLAO = "20131312955", "20295613620", "20505703554"

CASE = {
    "period": {"start": "2026-11-01", "end": "2026-11-30"},
    "entities": [
        {"ruc": RENIEC, "name": "RENIEC", "active_from": "2026-11-16", "active_to": None,
         "drivers": {"area_m2": "30", "modules": "2", "advisors": "3", "attentions": "3000"}},
        {"ruc": SUNAT, "name": "SUNAT", "active_from": "2024-01-01", "active_to": None,
         "drivers": {"area_m2": "60", "modules": "4", "advisors": "6", "attentions": "1000"}},
    ],
    "vacancy": {"policy": "administering", "administering_ruc": CALLAO, "drivers": {"area_m2": "15", "modules": "1"}},
    "methodology": {"version": "2026.1", "rules": {
        "alquiler": {"area_m2": "1"},
        "limpieza": {"area_m2": "0.5", "attentions": "0.5"},
        "sistema_colas": {"fixed": {SUNAT: "40", RENIEC: "60"}},
        "orientacion": {"attentions": "1"},
    }},
    "costs": [
        {"id": "ALQ-11", "category": "alquiler", "amount": "9000.00"},
        {"id": "LIM-11", "category": "limpieza", "amount": "2500.00"},
        {"id": "COL-11", "category": "sistema_colas", "amount": "1000.00"},
    ],
}


def mac(tmp_path, data, *args):
    path = tmp_path / "case.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return subprocess.run([sys.executable, "-m", "app.cli", "costs", "allocate", "--input", str(path), *args],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_the_calculator_prints_lines_totals_and_unallocated(tmp_path):
    done = mac(tmp_path, CASE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"lines", "totals", "unallocated"}
    # alquiler: SUNAT 60 × 30 = 1800, RENIEC 30 × 15 = 450, vacancy 15 × 30 = 450 → 9000 × 1800/2700 = 6000.
    alquiler = {ln["ruc"]: ln for ln in out["lines"] if ln["cost_id"] == "ALQ-11"}
    assert alquiler[SUNAT] == {"cost_id": "ALQ-11", "ruc": SUNAT, "amount": "6000.00", "share": "0.6666667",
                               "exact": "6000.00"}
    assert alquiler[RENIEC]["amount"] == "1500.00" and alquiler[CALLAO]["amount"] == "1500.00"
    # limpieza: SUNAT 0.5 × 1800/2700 + 0.5 × 1000/4000 = 11/24; RENIEC 0.5 × 450/2700 + 0.5 × 3000/4000 = 11/24;
    # the vacancy 0.5 × 450/2700 = 1/12 (not in attentions). 1145.8333…, 1145.8333…, 208.3333…: three equal
    # remainders and one céntimo left, which goes to the lowest RUC (SUNAT).
    limpieza = {ln["ruc"]: ln for ln in out["lines"] if ln["cost_id"] == "LIM-11"}
    assert limpieza[SUNAT]["exact"] == "1145.8333333333..."
    assert {r: ln["amount"] for r, ln in limpieza.items()} == {SUNAT: "1145.84", RENIEC: "1145.83", CALLAO: "208.33"}
    assert out["totals"] == {SUNAT: "7545.84", RENIEC: "3245.83", CALLAO: "1708.33"}
    assert sum(Decimal(v) for v in out["totals"].values()) == Decimal("12500.00")
    assert out["unallocated"] == []


@pytest.mark.parametrize(("broken", "message"), [
    ("{not json", "no es JSON válido"),
    (dict(CASE, costs=[{"id": "X", "category": "alquiler", "amount": "-1.00"}]), "no puede ser negativo"),
    (dict(CASE, costs=[{"id": "X", "category": "energia", "amount": "1.00"}]), "no tiene regla"),
    (dict(CASE, methodology={"version": "x", "rules": {"alquiler": {"area_m2": "0.7", "equal": "0.2"}}}),
     "deben sumar exactamente 1"),
])
def test_bad_input_exits_non_zero_with_a_specific_message(tmp_path, broken, message):
    done = mac(tmp_path, broken if isinstance(broken, str) else broken)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stdout == ""


def test_a_missing_file_is_reported(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.cli", "costs", "allocate", "--input", str(tmp_path / "no.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No se pudo leer" in done.stderr
