"""`mac clients create` prints a client id and a secret that obtain a token; `disable` revokes it at once."""

from __future__ import annotations

import re

from app.auth.tokens import actor_from_bearer, issue_access_token
from app.cli import main as mac


async def test_a_client_created_on_the_command_line_can_obtain_a_token_until_disabled(db, tenants, capsys):
    t = await tenants.create(with_centre=True)
    # The CLI runs its own event loop; call it in a thread so it does not nest in the test's loop.
    import asyncio

    code = await asyncio.to_thread(mac, ["clients", "create", "--ruc", t.entity.ruc, "--nombre", "Colas de prueba",
                                         "--centro", t.centre.code, "--scope", "centros:leer"])
    out = capsys.readouterr().out
    assert code == 0
    client_id = re.search(r"client_id:\s+(\S+)", out).group(1)
    secret = re.search(r"client_secret:\s+(\S+)", out).group(1)
    token = await issue_access_token(client_id, secret, ["centros:leer"])
    actor = await actor_from_bearer(token["access_token"])
    assert actor is not None and actor.entity_id == t.entity.id and actor.centre_id == t.centre.id

    assert await asyncio.to_thread(mac, ["clients", "disable", client_id]) == 0
    assert await actor_from_bearer(token["access_token"]) is None


async def test_an_unknown_ruc_is_refused_with_a_clear_message(capsys):
    import asyncio

    code = await asyncio.to_thread(mac, ["clients", "create", "--ruc", "20999999991", "--nombre", "x",
                                         "--scope", "centros:leer"])
    assert code == 2
    assert "Error:" in capsys.readouterr().err
