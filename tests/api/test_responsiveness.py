"""A heavy request never stalls the server: on a real uvicorn process, /health keeps answering within a second
while one client sends a 9 MB «PDF» to the public verification, a 5 MB one that has to be parsed, and a small
XLSX that declares 200,000 rows; the oversized and the over-long ones are refused (413, 422) quickly."""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from app.auth.passwords import hash_password
from app.costsharing import services as svc
from tests.costsharing_fixtures import make_scene
from tests.net import served_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Servidor-atento-2026"
REFUSED_WITHIN_SECONDS = 10  # far below the 30 s job limit: the refusal comes before the work, not after it


class HealthPoller(threading.Thread):
    """Another user: asks /health every 50 ms and keeps the longest wait."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.stop, self.waits = base_url, threading.Event(), []

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                assert client.get("/health").status_code == 200
                self.waits.append(time.perf_counter() - started)
                time.sleep(0.05)


def huge_sheet() -> bytes:
    """A valid XLSX of a few hundred KB whose sheet has 200,000 rows (the report's attack)."""
    wb = Workbook()
    wb.active.append(["categoria", "descripcion", "monto"])
    out = io.BytesIO()
    wb.save(out)
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>agua</t></is></c>'
                   f'<c r="B{n}" t="inlineStr"><is><t>x</t></is></c><c r="C{n}"><v>1</v></c></row>'
                   for n in range(2, 200_002))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxml'
             'formats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>categoria'
             '</t></is></c><c r="B1" t="inlineStr"><is><t>descripcion</t></is></c><c r="C1" t="inlineStr"><is><t>'
             f'monto</t></is></c></row>{rows}</sheetData></worksheet>')
    source, target = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            z.writestr(item, sheet if item.filename == "xl/worksheets/sheet1.xml" else source.read(item.filename))
    return target.getvalue()


def sign_in(client: httpx.Client, email: str) -> None:
    client.get("/ingresar")
    response = client.post("/ingresar", data={"_csrf_token": client.cookies["mac_csrf"], "correo": email,
                                              "contrasena": PASSWORD})
    assert response.status_code in (302, 303), response.text[:300]


@pytest.fixture
async def coordinator_period(tenants):
    scene = await make_scene(tenants, password_hash=hash_password(PASSWORD))
    period = await svc.open_period(scene.coordinator, scene.admin.centre.id, scene.year, 4)
    return scene.admin.users["coordinador_centro"].email, period.id


def test_health_answers_within_a_second_while_heavy_requests_are_refused_or_worked_off_the_loop(
        settings, coordinator_period):
    email, period_id = coordinator_period
    sheet = huge_sheet()
    assert len(sheet) < 2 * 1024 * 1024
    with served_app(PROJECT_ROOT, LOGIN_RATE_LIMIT_PER_MINUTE="100000") as base_url:
        poller = HealthPoller(base_url)
        poller.start()
        try:
            with httpx.Client(base_url=base_url, timeout=120) as visitor:
                started = time.perf_counter()
                nine_mb = b"%PDF-1.4\n" + b" " * (9 * 1024 * 1024) + b"\n%%EOF\n"
                response = visitor.post("/verificar", files={"pdf": ("grande.pdf", nine_mb, "application/pdf")})
                assert response.status_code == 413
                assert time.perf_counter() - started < REFUSED_WITHIN_SECONDS

                # Within the limit but slow to parse: worked in the pool while /health keeps answering.
                visitor.get("/verificar/")
                five_mb = b"%PDF-1.4\n" + b" " * (5 * 1024 * 1024 - 64) + b"\n%%EOF\n"
                response = visitor.post("/verificar", data={"_csrf_token": visitor.cookies["mac_csrf"]},
                                        files={"pdf": ("lento.pdf", five_mb, "application/pdf")})
                assert response.status_code == 200
                assert "no corresponde a ningún documento emitido" in response.text

            with httpx.Client(base_url=base_url, timeout=120) as coordinator:
                sign_in(coordinator, email)
                started = time.perf_counter()
                response = coordinator.post(
                    f"/costos/periodos/{period_id}/importar", data={"_csrf_token": coordinator.cookies["mac_csrf"]},
                    files={"archivo": ("costos.xlsx", sheet, "application/octet-stream")})
                assert response.status_code == 422
                assert re.search(r"demasiado grande una vez descomprimido|más de 2000 filas", response.text)
                assert time.perf_counter() - started < REFUSED_WITHIN_SECONDS
        finally:
            poller.stop.set()
            poller.join(timeout=30)
    assert len(poller.waits) > 10
    assert max(poller.waits) < 1.0, f"/health waited {max(poller.waits):.2f} s"
