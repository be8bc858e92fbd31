"""Cost-item spreadsheets are read as a stream that stops at the row limit; a small file that unpacks into a
huge sheet is refused before it is unpacked; a malformed CSV is a clear 422, never a crash."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from app.costsharing.services import MAX_IMPORT_ROWS, read_table
from app.errors import ValidationFailed
from tests.api.test_responsiveness import huge_sheet


def xlsx(rows: int) -> bytes:
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet()
    sheet.append(["categoria", "descripcion", "monto"])
    for n in range(rows):
        sheet.append(["agua", f"Recibo {n}", 10])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_small_file_that_unpacks_into_200000_rows_is_refused_before_it_is_unpacked():
    with pytest.raises(ValidationFailed, match="demasiado grande una vez descomprimido"):
        read_table("costos.xlsx", huge_sheet())


def test_reading_stops_past_the_row_limit():
    assert len(read_table("costos.xlsx", xlsx(MAX_IMPORT_ROWS))) == MAX_IMPORT_ROWS
    with pytest.raises(ValidationFailed, match=f"más de {MAX_IMPORT_ROWS} filas"):
        read_table("costos.xlsx", xlsx(MAX_IMPORT_ROWS + 1))
    csv = ("categoria,descripcion,monto\n" + "agua,Recibo,1\n" * (MAX_IMPORT_ROWS + 1)).encode()
    with pytest.raises(ValidationFailed, match=f"más de {MAX_IMPORT_ROWS} filas"):
        read_table("costos.csv", csv)


@pytest.mark.parametrize("content", [b"solo-una-columna\nx\n", b"categoria,descripcion,monto\nagua,\x00,1\n",
                                     b'categoria,descripcion,monto\nagua,"sin cerrar,1\n', b"\xff\xfe\x00"])
def test_a_malformed_csv_is_a_clear_refusal_or_a_row_never_a_crash(content):
    try:
        rows = read_table("costos.csv", content)
    except ValidationFailed as exc:
        assert exc.field == "archivo" and exc.message
    else:
        assert all("\x00" not in value for row in rows for value in row.values() if value)


def test_a_file_that_is_not_a_workbook_is_refused():
    with pytest.raises(ValidationFailed, match="no se pudo leer"):
        read_table("costos.xlsx", b"PK\x03\x04 no es un zip")
