"""End to end through the PostgreSQL broker (the embedded run's broker): a mail queued in a transaction is
delivered once by a real dramatiq worker, and `mac worker`'s runner starts, works and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from dramatiq_postgres import PostgresBroker

from app.config import PROJECT_ROOT
from app.db import TenantContext
from app.worker.broker import build_broker
from app.worker.mail import queue_email
from app.worker.outbox import relay_once
from app.worker.runner import read_heartbeat, run_worker
from tests.worker_fixtures import (  # noqa: F401  (fixtures)
    delivery_counter,
    mails_for,
    outbox_row_for_email,
    outgoing_email,
    postgres_broker,
    queue_prefix,
    quiet_outbox,
    running_worker,
    runtime,
    wait_until,
    worker_settings,
)

pytestmark = pytest.mark.usefixtures("quiet_outbox")


def test_without_broker_url_the_broker_is_postgres_as_the_runtime_role(worker_settings):
    broker = build_broker(worker_settings)
    try:
        assert isinstance(broker, PostgresBroker)
        with broker.pool.connection() as conn:
            user, superuser = conn.execute("SELECT current_user, current_setting('is_superuser')").fetchone()
        assert user == worker_settings.runtime_role and superuser == "off"
    finally:
        broker.close()


async def test_a_mail_queued_in_a_transaction_is_delivered_exactly_once(db, tenants, postgres_broker, worker_settings):
    tenant = await tenants.create()
    async with db.transaction(tenant.ctx("gestor_entidad")) as s:
        email_id = await queue_email(s, to="gestora@prueba.gob.pe", subject="Adhesión aprobada — Año 2026",
                                     body="Estimada gestora:\nSu adhesión fue aprobada.", entity_id=tenant.entity.id)
    row = await outbox_row_for_email(db, email_id)
    counter = delivery_counter(postgres_broker)

    with running_worker(postgres_broker) as worker:
        assert await relay_once(db, postgres_broker) == 1
        await wait_until(lambda: mails_for(worker_settings.data_dir, email_id), what="the mail")
        assert await relay_once(db, postgres_broker) == 0
        await asyncio.to_thread(worker.join)

    [mail] = mails_for(worker_settings.data_dir, email_id)
    assert counter.processed[str(row.id)] == 1
    assert mail["To"] == "gestora@prueba.gob.pe"
    assert mail["Subject"] == "Adhesión aprobada — Año 2026"
    assert mail.get_content().strip() == "Estimada gestora:\nSu adhesión fue aprobada."
    email = await outgoing_email(db, email_id)
    assert email.sent_at is not None and email.attempts == 1 and email.last_error is None


async def test_run_worker_relays_delivers_beats_and_stops(db, settings):
    """The function `mac worker` calls: relay (woken by NOTIFY), worker, heartbeat, clean stop."""
    stop = threading.Event()
    runner = threading.Thread(target=run_worker, args=(settings,), kwargs={"threads": 2, "stop_event": stop})
    runner.start()
    try:
        await wait_until(lambda: read_heartbeat(settings.data_dir) is not None, what="the heartbeat")
        async with db.transaction(TenantContext.system()) as s:
            email_id = await queue_email(s, to="coordinador@prueba.gob.pe", subject="Recordatorio", body="Hola")
        await wait_until(lambda: mails_for(settings.data_dir, email_id), what="the mail through run_worker")
    finally:
        stop.set()
        await asyncio.to_thread(runner.join, 15)
    assert not runner.is_alive()
    assert len(mails_for(settings.data_dir, email_id)) == 1
    assert (await outbox_row_for_email(db, email_id)).sent_at is not None


def test_the_worker_process_stops_cleanly_on_sigterm(settings, tmp_path):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "DATA_DIR": str(tmp_path)}
    env.pop("BROKER_URL", None)
    code = ("from app.config import get_settings; from app.worker.runner import run_worker; "
            "run_worker(get_settings(), threads=1); print('worker returned')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while read_heartbeat(tmp_path) is None:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the worker process never beat"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "worker returned" in out
