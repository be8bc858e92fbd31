"""Step-up re-authentication before a signature: a short-lived proof, kept in the server-side session.

A person who signed in with ID GOB.PE and has no platform password confirms who they are at the provider
again (``prompt=login``, ``max_age=0``); the callback records here *that* they did, *how* and at *what* level
(``acr``). The signature accepts the proof only while it is fresh, only for the same user, and only once.
Pure except for reading and writing the session mapping it is handed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, MutableMapping

SESSION_REAUTH = "reautenticacion"
# How long a re-authentication counts, both for the provider's auth_time and for the proof in the session.
REAUTH_WINDOW_SECONDS = 300
# Clock skew tolerated for an auth_time slightly in the future.
CLOCK_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Reauthentication:
    """The person ``user_id`` proved again who they are, at ``at`` (epoch seconds), by ``method``."""

    user_id: uuid.UUID
    method: str
    acr: str | None
    at: float


def is_recent(moment: float | int | None, *, now: float | None = None,
              window: int = REAUTH_WINDOW_SECONDS) -> bool:
    """``moment`` lies within the last ``window`` seconds (a little in the future is clock skew, not fraud)."""
    if not isinstance(moment, int | float) or isinstance(moment, bool):
        return False
    now = time.time() if now is None else now
    return now - window <= moment <= now + CLOCK_LEEWAY_SECONDS


def remember(session: MutableMapping[str, Any], proof: Reauthentication) -> None:
    session[SESSION_REAUTH] = {"uid": str(proof.user_id), "metodo": proof.method, "acr": proof.acr,
                               "en": proof.at}


def _parse(raw: Any) -> Reauthentication | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Reauthentication(user_id=uuid.UUID(str(raw["uid"])), method=str(raw["metodo"]),
                                acr=raw.get("acr") if isinstance(raw.get("acr"), str) else None, at=float(raw["en"]))
    except (KeyError, ValueError, TypeError):
        return None


def peek(session: MutableMapping[str, Any]) -> Reauthentication | None:
    """The proof in the session, if any (not consumed: to tell the signing page what to show)."""
    return _parse(session.get(SESSION_REAUTH))


def take(session: MutableMapping[str, Any]) -> Reauthentication | None:
    """Remove and return the proof: each one serves for a single signature."""
    return _parse(session.pop(SESSION_REAUTH, None))
