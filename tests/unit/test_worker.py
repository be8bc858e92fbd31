"""Background work without a database: broker choice, job declaration, message building, back-off, mail
composition, the local mailbox and SMTP delivery to a real (tiny) SMTP server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from dramatiq import Message
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from app.config import PROJECT_ROOT, Settings
from app.worker import broker as broker_module
from app.worker.broker import (
    WorkerRuntime,
    broker_kind,
    build_broker,
    declare_actors,
    job,
    registered_jobs,
    route,
    sync_database_url,
)
from app.worker.mail import compose_email, parse_smtp_url, read_mailbox, send_email, transmit, write_to_mailbox
from app.worker.outbox import backoff, build_message, message_from_json, message_to_json

UNREACHABLE_AMQP = "amqp://guest:guest@127.0.0.1:1/%2F?connection_attempts=1"


def _settings(**values) -> Settings:
    return Settings(database_url="postgresql://owner:pw@127.0.0.1:5432/mac", **values)


# --- Brokers and jobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [(None, "postgres"), ("", "postgres"), ("amqp://guest:guest@rabbit:5672", "rabbitmq"),
     ("amqps://u:p@rabbit/vh", "rabbitmq"), ("redis://127.0.0.1:6379/0", "redis"),
     ("postgresql://u:p@db/mac", "postgres")],
)
def test_the_broker_url_chooses_the_broker(url, kind):
    assert broker_kind(url) == kind


def test_an_unknown_broker_url_is_an_error_not_a_silent_fallback():
    with pytest.raises(ValueError, match="BROKER_URL"):
        broker_kind("kafka://cluster:9092")


def test_build_broker_makes_real_brokers_without_connecting():
    rabbit = build_broker(_settings(broker_url=UNREACHABLE_AMQP))
    assert isinstance(rabbit, RabbitmqBroker) and rabbit.confirm_delivery
    redis = build_broker(_settings(broker_url="redis://127.0.0.1:1/0"))
    assert isinstance(redis, RedisBroker)


def test_the_actor_database_url_uses_psycopg_and_keeps_unix_sockets():
    assert sync_database_url("postgresql://mac_app:pw@/mac?host=/run/pg") == (
        "postgresql+psycopg://mac_app:pw@/mac?host=/run/pg")


def test_importing_the_worker_modules_touches_no_broker():
    code = ("import dramatiq.broker as b, app.worker.runner, app.worker.mail, app.worker.outbox;"
            "print(b.global_broker is None)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_jobs_bind_to_each_broker_on_its_own_queues():
    runtime = WorkerRuntime(_settings())
    first, second = RabbitmqBroker(url=UNREACHABLE_AMQP), RabbitmqBroker(url=UNREACHABLE_AMQP)
    actors = declare_actors(first, runtime, queue_prefix="a_")
    declare_actors(second, runtime, queue_prefix="b_")
    assert set(registered_jobs()) <= set(first.actors)
    assert actors["send_email"].queue_name == "a_mail"
    assert second.actors["send_email"].queue_name == "b_mail"
    assert declare_actors(first, runtime, queue_prefix="a_")["send_email"] is actors["send_email"]  # idempotent


def test_the_relay_routes_by_the_queue_the_worker_declared():
    broker = RabbitmqBroker(url=UNREACHABLE_AMQP)
    declare_actors(broker, WorkerRuntime(_settings()), queue_prefix="p_")
    stored = build_message(send_email, ("x",), {}, message_id=uuid.uuid4())
    assert stored.queue_name == "mail"
    assert route(broker, stored).queue_name == "p_mail"
    unknown = build_message("otro_actor", (), {}, message_id=uuid.uuid4())
    assert route(broker, unknown) is unknown


def test_a_domain_jobs_module_is_found_through_the_plug_in_point(monkeypatch, tmp_path):
    package = tmp_path / "dominio_de_prueba"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        "from app.worker.broker import job\n\n"
        "@job('recalcular_de_prueba', queue_name='indicadores')\n"
        "def recalcular(runtime, entity_id):\n    return entity_id\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("app.modules.DOMAINS", ("dominio_de_prueba",))
    monkeypatch.setattr(broker_module, "_JOBS", dict(broker_module._JOBS))  # leave the real registry alone
    found = registered_jobs()
    assert found["recalcular_de_prueba"].queue_name == "indicadores"
    assert {"send_email", "heartbeat"} <= set(found)


def test_two_functions_cannot_claim_the_same_job_name(monkeypatch):
    monkeypatch.setattr(broker_module, "_JOBS", dict(broker_module._JOBS))  # leave the real registry alone
    @job("prueba_nombre_unico")
    def one(runtime):  # noqa: ANN001, ANN202
        return 1

    with pytest.raises(ValueError, match="ya está registrado"):
        @job("prueba_nombre_unico")
        def other(runtime):  # noqa: ANN001, ANN202
            return 2


# --- Messages and back-off ----------------------------------------------------------------------------------


def test_a_message_is_built_like_actor_message_with_the_outbox_id():
    record_id, message_id = uuid.uuid4(), uuid.uuid4()
    message = build_message(send_email, (record_id,), {"motivo": "alta"}, message_id=message_id)
    assert (message.actor_name, message.queue_name) == ("send_email", "mail")
    assert message.args == (str(record_id),) and message.kwargs == {"motivo": "alta"}
    assert message.message_id == str(message_id)
    assert message_from_json(json.loads(json.dumps(message_to_json(message)))) == message


def test_a_bare_actor_name_goes_to_the_default_queue_unless_told():
    assert build_message("x", (), {}, message_id=uuid.uuid4()).queue_name == "default"
    assert build_message("x", (), {}, message_id=uuid.uuid4(), queue_name="reportes").queue_name == "reportes"


def test_arguments_that_are_not_json_fail_in_the_request_not_in_the_relay():
    message = build_message("x", (object(),), {}, message_id=uuid.uuid4())
    with pytest.raises(TypeError):
        message_to_json(message)


def test_backoff_doubles_from_two_seconds_and_is_capped():
    waits = [backoff(n) for n in range(1, 40)]
    assert waits[0] == timedelta(seconds=2) and waits[1] == timedelta(seconds=4)
    assert all(a <= b for a, b in zip(waits, waits[1:], strict=False))
    assert max(waits) == timedelta(minutes=5)


# --- Mail ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [("smtp://mailer:s%40cret@smtp.gob.pe:587", ("smtp.gob.pe", 587, "mailer", "s@cret", "starttls")),
     ("smtp://relay.local", ("relay.local", 25, None, None, "none")),
     ("smtp://u:p@relay.local:2525?starttls=true", ("relay.local", 2525, "u", "p", "starttls")),
     ("smtps://u:p@smtp.gob.pe", ("smtp.gob.pe", 465, "u", "p", "ssl"))],
)
def test_smtp_urls(url, expected):
    c = parse_smtp_url(url)
    assert (c.host, c.port, c.username, c.password, c.security) == expected


def test_a_malformed_smtp_url_is_rejected():
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url("http://smtp.gob.pe")


def _compose(email_id: uuid.UUID, subject: str = "Restablecer contraseña", body: str = "Año 2026: ñandú"):
    return compose_email(email_id=email_id, sender="Plataforma MAC <no-responder@mac.gob.pe>",
                         to="persona@prueba.gob.pe", subject=subject, body=body,
                         date=datetime(2026, 3, 1, 12, tzinfo=UTC))


def test_a_mail_has_a_message_id_stable_for_its_row():
    email_id = uuid.uuid4()
    assert _compose(email_id)["Message-ID"] == f"<{email_id}@mac.gob.pe>" == _compose(email_id)["Message-ID"]


def test_the_mailbox_keeps_one_rfc5322_file_per_delivery(tmp_path):
    email_id = uuid.uuid4()
    for _ in range(2):
        write_to_mailbox(tmp_path, _compose(email_id), email_id=email_id)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2 and not list((tmp_path / "mail").glob(".*"))
    raw = files[0].read_bytes()
    assert b"\r\n" in raw and raw.isascii()  # CRLF, 7-bit: RFC 5322 on any transport
    mails = read_mailbox(tmp_path)
    assert [m["Subject"] for m in mails] == ["Restablecer contraseña"] * 2
    assert mails[0].get_content() == "Año 2026: ñandú\n"
    assert read_mailbox(tmp_path / "nada") == []


class SmtpSink(threading.Thread):
    """A minimal real SMTP server on a free port, keeping the DATA it receives."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[tuple[list[str], bytes]] = []

    def run(self) -> None:
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as lines:
            def reply(text: str) -> None:
                conn.sendall(text.encode() + b"\r\n")

            reply("220 sink ESMTP")
            recipients: list[str] = []
            for line in lines:
                command = line.decode().strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO", "MAIL", "RSET", "NOOP"):
                    reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    reply("250 OK")
                elif verb == "DATA":
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    data = b"".join(iter(lines.readline, b".\r\n"))
                    self.received.append((recipients, data))
                    reply("250 Queued")
                elif verb == "QUIT":
                    reply("221 Bye")
                    break
                else:
                    reply("502 Not implemented")
        self.sock.close()


def test_with_smtp_url_mail_goes_to_the_smtp_server_and_not_the_mailbox(tmp_path):
    sink = SmtpSink()
    sink.start()
    email_id = uuid.uuid4()
    settings = _settings(smtp_url=f"smtp://127.0.0.1:{sink.port}", data_dir=tmp_path)
    transmit(settings, _compose(email_id), email_id=email_id)
    sink.join(timeout=5)
    [(recipients, data)] = sink.received
    assert recipients == ["persona@prueba.gob.pe"]
    received = message_from_bytes(data, policy=policy.default)
    assert received["Message-ID"] == f"<{email_id}@mac.gob.pe>"
    assert received.get_content().replace("\r\n", "\n") == "Año 2026: ñandú\n"
    assert read_mailbox(tmp_path) == []
