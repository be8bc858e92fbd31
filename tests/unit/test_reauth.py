"""The step-up proof: recent means within the last five minutes (a little clock skew forward), and taking it
from the session removes it."""

from __future__ import annotations

import uuid

from app.auth import reauth


def test_recent_means_within_the_window_and_tolerates_a_little_skew():
    now = 1_800_000_000.0
    assert reauth.is_recent(now - 300, now=now)
    assert not reauth.is_recent(now - 301, now=now)
    assert reauth.is_recent(now + 30, now=now)
    assert not reauth.is_recent(now + 3600, now=now)
    assert not reauth.is_recent(None, now=now) and not reauth.is_recent(True, now=now)


def test_a_proof_is_taken_once():
    session: dict = {}
    proof = reauth.Reauthentication(user_id=uuid.uuid4(), method="oidc", acr="nivel-2", at=1_800_000_000.0)
    reauth.remember(session, proof)
    assert reauth.peek(session) == proof
    assert reauth.take(session) == proof
    assert reauth.take(session) is None and reauth.peek(session) is None
