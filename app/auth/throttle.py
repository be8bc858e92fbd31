"""The sign-in throttle: growing delays per (account, client address) instead of a lock anyone could trigger.

Pure arithmetic (no I/O): the state lives in PostgreSQL (``login_throttle``, migration 0013) so every web
process sees the same counts.

* The first :data:`FREE_FAILURES` failures of an (account, address) pair cost nothing.
* After that, the pair waits before its next attempt: 2 s after the 4th failure, then 4 s, 8 s, ... up to
  :data:`MAX_DELAY_SECONDS` (15 min). While it waits, every attempt from that address for that account gets the
  same answer, the right password included (otherwise the wait would tell a guesser when a guess was right).
* Nobody else is affected: the owner signing in from another address is not delayed, so an outsider can no
  longer lock anyone out. A success clears the pair; a day without failures forgets it.
* At :data:`NOTICE_AT` failures the owner of an existing account is told by e-mail, once per run.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

FREE_FAILURES = 3
NOTICE_AT = 5
MAX_DELAY_SECONDS = 15 * 60


def account_key(email: str) -> str:
    """What the throttle knows of an account: the same for a known or an unknown address, never the text."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def delay_after(failures: int) -> int:
    """Seconds the pair must wait after its ``failures``-th failure before it may try again."""
    if failures <= FREE_FAILURES:
        return 0
    return min(MAX_DELAY_SECONDS, 2 ** (failures - FREE_FAILURES))


def seconds_to_wait(failures: int, last_failure_at: datetime | None, now: datetime) -> int:
    """0 when an attempt may go ahead now; otherwise whole seconds until it may."""
    if not failures or last_failure_at is None:
        return 0
    remaining = delay_after(failures) - (now - last_failure_at).total_seconds()
    return max(0, math.ceil(remaining))


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} segundo{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minuto{'s' if minutes != 1 else ''}"
