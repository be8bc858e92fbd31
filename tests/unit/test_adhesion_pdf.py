"""The clause PDF: deterministic, in Spanish, with the verification code and page numbers on every page and the
signature boxes on the last one."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.adhesion.pdf import AnsTarget, ClauseData, Party, fill_template, placeholder_values, render_clause
from app.adhesion.template_text import BODY, TITLE


def clause(**overrides) -> ClauseData:  # noqa: ANN003
    data = ClauseData(
        code="ADH-7K3M-Q9TX", verification_url="https://mac.gob.pe/verificar/ADH-7K3M-Q9TX",
        issued_on=date(2026, 11, 23), template_title=TITLE, template_version=1, body="",
        participant=Party("Registro Nacional de Identificación y Estado Civil", "20295613620", "ENTIDAD PARTICIPANTE"),
        administrator=Party("Gobierno Regional del Callao", "20505703554", "ENTIDAD ADMINISTRADORA"),
        centre_name="Centro MAC Callao", centre_address="Av. Sáenz Peña 1020, Callao",
        services=tuple((f"S-{i}", f"Servicio número {i}") for i in range(1, 30)), modules=4,
        area_m2=Decimal("24.50"), monthly_fee=Decimal("1234.5"), cofinancing="Clave por área (m²)", term_months=24,
        ans=(AnsTarget("Duplicado del DNI", 20, 15, Decimal("90")),))
    data = ClauseData(**{**data.__dict__, **overrides})
    return ClauseData(**{**data.__dict__, "body": fill_template(BODY, placeholder_values(data))})


def test_the_same_data_always_gives_the_same_bytes():
    assert render_clause(clause()) == render_clause(clause())
    assert render_clause(clause()) != render_clause(clause(monthly_fee=Decimal("1234.51")))


def test_every_page_carries_the_code_the_link_and_its_number():
    reader = PdfReader(io.BytesIO(render_clause(clause())))
    total = len(reader.pages)
    assert total >= 3
    for number, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        assert "ADH-7K3M-Q9TX" in text
        assert "https://mac.gob.pe/verificar/ADH-7K3M-Q9TX" in text
        assert f"Página {number} de {total}" in text


def test_the_clause_names_the_parties_with_their_ruc_and_the_annexes():
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(render_clause(clause()))).pages)
    for expected in ("20295613620", "20505703554", "ANEXO 1", "ANEXO 2", "ANEXO 3", "S/ 1,234.50",
                     "Ley N.º 29733", "Servicio número 29", "FIRMAS"):
        assert expected in text


def test_an_unknown_placeholder_is_an_error_not_a_silent_gap():
    with pytest.raises(ValueError, match="firma_ministro"):
        fill_template("La {entidad} y el {firma_ministro}", {"entidad": "X"})
