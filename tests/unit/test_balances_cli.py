"""`mac costs saldos --input caso.json`: the offline balance calculator prints the issue's JSON format; a
refused input exits with code 2, the reason on standard error and nothing on standard output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_balances import CASE, variant

ROOT = Path(__file__).resolve().parents[2]


def saldos(tmp_path, data, *args):
    path = tmp_path / "caso.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return subprocess.run([sys.executable, "-m", "app.cli", "costs", "saldos", "--input", str(path), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_the_calculator_prints_accounts_statements_and_payments(tmp_path):
    done = saldos(tmp_path, CASE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["as_of", "accounts", "statements", "payments"]
    assert out["as_of"] == "2027-01-05"
    assert out["accounts"][0]["outstanding"] == "16900.00" and out["accounts"][0]["overdue"] == "16900.00"
    assert [(s["id"], s["status"]) for s in out["statements"]] == [("EC-v1", "reemplazado"), ("EC-v2", "vencido")]
    assert out["payments"][0]["applied"] == [{"statement": "EC-v2", "amount": "10000.00"}]


@pytest.mark.parametrize("doc", [
    variant(statements__0__amount="20.000,00"), variant(payments__0__amount="26650.265"),
    variant(payments__0__amount="-10.00"), variant(payments__0__amount="0.00"),
    {**CASE, "payments": CASE["payments"] * 2}, variant(payments__0__applies_to=["EC-v9"]),
    variant(payments__0__centre="MAC-VENTANILLA"), variant(statements__0__replaces="EC-v2"), "{no es json",
])
def test_a_refused_input_exits_2_with_the_reason_and_nothing_on_stdout(tmp_path, doc):
    done = saldos(tmp_path, doc)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip()


def test_a_missing_file_is_refused_with_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "app.cli", "costs", "saldos", "--input", str(tmp_path / "no.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "") and "No se pudo leer" in done.stderr


def test_the_readme_worked_example_is_what_the_calculator_prints(tmp_path):
    import re

    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Saldos y pagos", 1)[1]
    given, expected = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)[:2]]
    done = saldos(tmp_path, given)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected
