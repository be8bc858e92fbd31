"""A published cost-sharing period built through cost sharing's own services (no shortcuts), ready for
statements; and helpers to read the generated documents back."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pypdf
from openpyxl import load_workbook
import pytest
from sqlalchemy import func, select, update

from app.billing_reports.models import Statement, StatementFile
from app.costsharing import services as cs
from app.db import TenantContext
from tests.costsharing_fixtures import Scene


async def published_period(scene: Scene, month: int = 3, *, extra=(), publish: bool = True) -> object:  # noqa: ANN001
    """Rent, cleaning (mix key) and guidance (attentions) for A, B (joined on the 16th) and any ``extra``
    tenants; 10 m² vacant, borne by the administering entity; computed and (unless told) published."""
    c = scene.coordinator
    period = await cs.open_period(c, scene.admin.centre.id, scene.year, month)
    await cs.add_item(c, period.id, cs.ItemInput("alquiler", "Alquiler del local", "9000.00", "F001-123"))
    await cs.add_item(c, period.id, cs.ItemInput("limpieza", "Servicio de limpieza", "2500.35", "OS-77"))
    await cs.add_item(c, period.id, cs.ItemInput("orientacion", "Orientadores en sala", "1200.00", "OS-78"))
    start = date(scene.year, month, 1)
    await cs.record_participant(c, period.id, cs.ParticipantInput(scene.a.entity.ruc, start, None, "60", "4", "6",
                                                                  "1000"))
    await cs.record_participant(c, period.id, cs.ParticipantInput(scene.b.entity.ruc, start + timedelta(days=15),
                                                                  None, "30", "2", "3", "3000"))
    for i, t in enumerate(extra):
        await cs.record_participant(c, period.id, cs.ParticipantInput(t.entity.ruc, start, None, str(10 + i), "1",
                                                                      "1", str(100 + 7 * i)))
    await cs.set_vacancy(c, period.id, area_m2="10", modules="0", advisors="0")
    await cs.compute_period(c, period.id)
    if not publish:
        return period
    return await cs.publish_period(c, period.id, today=start + timedelta(days=40))


async def close(scene: Scene, period) -> None:  # noqa: ANN001
    await cs.close_period(scene.coordinator, period.id, early=True, today=period.ends_on + timedelta(days=41))


async def current_statements(db, period_id) -> list[Statement]:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(select(Statement).where(Statement.period_id == period_id, Statement.is_current)
                                     .order_by(Statement.number))).all())


async def all_statements(db, period_id) -> list[Statement]:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(select(Statement).where(Statement.period_id == period_id)
                                     .order_by(Statement.number))).all())


async def files_of(db, statement_id) -> dict[str, StatementFile]:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        files = (await s.scalars(select(StatementFile).where(StatementFile.statement_id == statement_id))).all()
        for f in files:
            await s.refresh(f, ["content"])
        return {f.format: f for f in files}


MONEY = re.compile(r"^-?S/ [\d,]+\.\d{2}$")
PERCENT = re.compile(r"^\d+\.\d{4} %$")


def money(text: str) -> Decimal:
    return Decimal(text.replace("S/ ", "").replace(",", ""))


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_detail_amounts(pdf: bytes) -> list[Decimal]:
    """The amounts of the rows of the PDF's category tables, in order."""
    section = pdf_text(pdf).split("DETALLE POR CATEGORÍA", 1)[1].split("ANEXO · DERIVACIÓN", 1)[0]
    lines = [ln.strip() for ln in section.splitlines()]
    return [money(after) for here, after in zip(lines, lines[1:], strict=False)
            if PERCENT.match(here) and MONEY.match(after)]


def pdf_total(pdf: bytes) -> Decimal:
    match = re.search(r"TOTAL DEL PERIODO\s*\n\s*(-?S/ [\d,]+\.\d{2})", pdf_text(pdf))
    assert match
    return money(match.group(1))


def csv_amounts(data: bytes) -> tuple[list[Decimal], Decimal]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    col = rows[0].index("Importe (S/)")
    return [Decimal(r[col]) for r in rows[1:-1]], Decimal(rows[-1][col])


def xlsx_amounts(data: bytes) -> tuple[list[Decimal], Decimal]:
    rows = list(load_workbook(io.BytesIO(data))["Detalle"].iter_rows(values_only=True))
    col = rows[0].index("Importe (S/)")
    for r in rows[1:]:
        assert isinstance(r[col], int | float), "amounts are numbers in the XLSX"
    return [Decimal(str(r[col])) for r in rows[1:-1]], Decimal(str(rows[-1][col]))


def pdfsig(pdf: bytes, tmp_path) -> str:  # noqa: ANN001
    path = tmp_path / "estado.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def start_worker(settings, data_dir) -> subprocess.Popen:  # noqa: ANN001
    """`mac worker`'s function (relay + dramatiq worker + heartbeat) in a process of its own, on the test
    database; stop it with SIGTERM (or kill it)."""
    import os
    import sys

    from app.config import PROJECT_ROOT

    env = {**os.environ, "DATABASE_URL": settings.database_url, "DATA_DIR": str(data_dir)}
    env.pop("BROKER_URL", None)
    code = ("from app.config import get_settings; from app.worker.runner import run_worker; "
            "run_worker(get_settings(), threads=1)")
    return subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop_worker(worker: subprocess.Popen) -> None:
    import signal

    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
async def clean_outbox(db):  # noqa: ANN001
    """Messages this test queued and did not deliver are marked sent at the end, so that later tests relaying
    the shared outbox never receive them."""
    from app.worker.models import OutboxMessage

    async with db.transaction(TenantContext.system()) as s:
        started = await s.scalar(select(func.now()))
    yield
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.sent_at.is_(None),
                                                    OutboxMessage.created_at >= started)
                        .values(sent_at=func.now(), last_error="no entregado: fin de la prueba"))
