"""Repeated failed sign-ins slow down the one (account, address) pair that fails — with growing delays kept in
PostgreSQL for every web process — instead of locking the account for everyone; unknown accounts behave exactly
like known ones; the owner is told by e-mail."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import select

from app.auth import throttle
from app.auth.passwords import hash_password
from app.db import TenantContext
from app.worker.models import OutgoingEmail
from tests.conftest import WebClient

PASSWORD = "Clave-segura-2026"
WRONG = "adivinanza-0001"
_hosts = itertools.count(1)


@pytest.fixture
async def from_address(app):
    opened: list[httpx.AsyncClient] = []

    async def make(application=None) -> WebClient:  # noqa: ANN001
        n = next(_hosts)
        transport = httpx.ASGITransport(app=application or app, client=(f"10.31.{n // 250}.{n % 250 + 1}", 40000))
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
        opened.append(http)
        return WebClient(http)

    yield make
    for http in opened:
        await http.aclose()


def alert(page: str) -> str:
    """The message beside the form, with the seconds left (which depend on the clock) left out."""
    return re.sub(r"\d+ segundos?", "N segundos", re.search(r'id="error-ingreso">([^<]*)<', page).group(1))


def rewind(owner_url: str, email: str, seconds: int) -> None:
    """As if the last failure of every pair of ``email`` happened ``seconds`` earlier."""
    with psycopg.connect(owner_url) as conn:
        conn.execute("UPDATE login_throttle SET last_failure_at = last_failure_at - make_interval(secs => %s) "
                     "WHERE account_key = %s", (seconds, throttle.account_key(email)))


def test_the_delay_grows_after_a_few_free_failures_and_is_capped():
    assert [throttle.delay_after(n) for n in range(0, 8)] == [0, 0, 0, 0, 2, 4, 8, 16]
    assert throttle.delay_after(40) == throttle.MAX_DELAY_SECONDS
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert throttle.seconds_to_wait(5, now - timedelta(seconds=1), now) == 3
    assert throttle.seconds_to_wait(5, now - timedelta(seconds=4), now) == 0
    assert throttle.seconds_to_wait(3, now, now) == 0
    assert throttle.account_key(" Ana@Ejemplo.PE ") == throttle.account_key("ana@ejemplo.pe")


async def test_an_outsider_slows_only_their_own_guesses_and_the_owner_still_signs_in(
        tenants, from_address, owner_url):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    email = t.users["finanzas"].email
    attacker, owner = await from_address(), await from_address()
    for _ in range(throttle.FREE_FAILURES + 1):
        assert "Correo o contraseña incorrectos." in (await attacker.login(email, WRONG)).text
    rewind(owner_url, email, -60)  # the 2 s wait cannot have passed yet, however slow the machine
    waiting = await attacker.login(email, PASSWORD)  # even the right password waits: no oracle
    assert waiting.status_code == 401 and "Espere" in alert(waiting.text)
    assert (await owner.login(email, PASSWORD)).status_code in (302, 303)


async def test_an_unknown_account_gets_exactly_the_same_answers(tenants, from_address, owner_url):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    known, unknown = await from_address(), await from_address()
    answers = {}
    for client, email in ((known, t.users["finanzas"].email), (unknown, "nadie-aqui@ejemplo.pe")):
        answers[email] = [((r := await client.login(email, WRONG)).status_code, alert(r.text))
                          for _ in range(throttle.FREE_FAILURES + 1)]
        rewind(owner_url, email, -60)  # the next attempt comes within the wait, however slow the machine
        answers[email].append(((r := await client.login(email, WRONG)).status_code, alert(r.text)))
    first, second = answers.values()
    assert first == second
    assert "Espere" in first[-1][1]
    assert not any("bloqueada" in text for _status, text in first)


async def test_the_wait_is_shared_by_every_web_process_and_ends_with_its_delay(
        app, settings, tenants, owner_url):
    from app.main import create_app

    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    email = t.users["finanzas"].email
    address = (f"10.32.{next(_hosts) % 250}.9", 40000)
    # Two processes (two apps, as behind a load balancer) and one client address.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address),
                                 base_url="http://127.0.0.1:8000") as first, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings), client=address),
                              base_url="http://127.0.0.1:8000") as second:
        for _ in range(throttle.FREE_FAILURES + 2):
            await WebClient(first).login(email, WRONG)
            rewind(owner_url, email, throttle.MAX_DELAY_SECONDS)  # each guess counts
        rewind(owner_url, email, -throttle.MAX_DELAY_SECONDS)  # the last one just happened: 4 s to wait
        assert "Espere" in alert((await WebClient(second).login(email, PASSWORD)).text)
        rewind(owner_url, email, 5)
        assert (await WebClient(second).login(email, PASSWORD)).status_code in (302, 303)
    with psycopg.connect(owner_url) as conn:  # a success forgets the pair
        assert conn.execute("SELECT count(*) FROM login_throttle WHERE account_key = %s",
                            (throttle.account_key(email),)).fetchone()[0] == 0


async def test_the_owner_is_told_once_by_email_when_failures_pile_up(tenants, from_address, db, owner_url):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    email = t.users["finanzas"].email
    attacker = await from_address()
    for _ in range(throttle.NOTICE_AT + 3):
        await attacker.login(email, WRONG)
        rewind(owner_url, email, throttle.MAX_DELAY_SECONDS)  # keep guessing without waiting
    async with db.transaction(TenantContext.system()) as s:
        mails = (await s.scalars(select(OutgoingEmail).where(OutgoingEmail.to_address == email))).all()
    assert len(mails) == 1
    assert f"Hubo {throttle.NOTICE_AT} intentos fallidos" in mails[0].body_text
    assert "10.31." in mails[0].body_text


async def test_an_administrator_locks_an_account_out_by_deactivating_it(tenants, from_address, db):
    from app.tenants.models import User

    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(User, t.users["finanzas"].id)).is_active = False
    refused = await (await from_address()).login(t.users["finanzas"].email, PASSWORD)
    assert refused.status_code == 401 and "Correo o contraseña incorrectos." in refused.text
