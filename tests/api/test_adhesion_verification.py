"""The public verification page: by code or by file, without signing in, showing only what the registry says."""

from __future__ import annotations

from app.adhesion import services
from tests.adhesion_world import walk_to, world  # noqa: F401


async def test_the_code_shows_authenticity_signers_level_and_current_state_without_login(client, world):
    adhesion_id = await walk_to(world, "vigente")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    r = await client.get(f"/verificar/{view.adhesion.document_code.lower()}")
    assert r.status_code == 200
    page = r.text
    assert "Vigente" in page and "PAdES B-B" in page and "sello de la plataforma" in page
    assert all(rev.sha256 in page for rev in view.revisions if rev.document_id == view.documents[-1].id)
    assert "<svg" in page  # the QR code
    # Nothing else: no e-mail addresses, no amounts, no internal identifiers.
    for secret in [u.email for u in world.participant.users.values()] + ["1250.00", "1,250.00", str(adhesion_id)]:
        assert secret not in page


async def test_an_unknown_code_is_a_plain_not_found(client):
    r = await client.get("/verificar/ADH-0000-0000")
    assert r.status_code == 404 and "No existe un documento" in r.text


async def test_an_uploaded_file_is_checked_against_the_registry(client, world):
    adhesion_id = await walk_to(world, "vigente")
    _, pdf = await services.document_pdf(world.gestor, adhesion_id)
    token = await client.csrf()

    async def check(content: bytes) -> str:
        r = await client.post("/verificar", data={"_csrf_token": token},
                              files={"pdf": ("clausula.pdf", content, "application/pdf")})
        assert r.status_code == 200, r.text
        return r.text

    assert 'data-veredicto="exacto"' in await check(pdf)
    # Same code, one byte changed in the pages: not authentic.
    position = pdf.index(b"stream") + 20
    altered = pdf[:position] + bytes([pdf[position] ^ 1]) + pdf[position + 1:]
    assert 'data-veredicto="alterado"' in await check(altered)
    # An earlier revision with something appended after it: the revision is intact, the rest is not registered.
    assert 'data-veredicto="ampliado"' in await check(pdf + b"\n% comentario agregado\n")
    assert 'data-veredicto="desconocido"' in await check(b"%PDF-1.4\n%%EOF\n")


async def test_the_verification_page_reflects_the_state_as_it_changes(client, world):
    adhesion_id = await walk_to(world, "presentada")
    code = (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.document_code
    assert "Presentada" in (await client.get(f"/verificar/{code}")).text
    await services.transition(world.coordinador, adhesion_id, "evaluar")
    await services.transition(world.coordinador, adhesion_id, "observar", reason="Corrija el anexo")
    await services.sign_in_platform(world.gestor, adhesion_id, password="Firma-Segura-2026")
    page = (await client.get(f"/verificar/{code}")).text
    assert "reemplazado por una versión posterior" in page
    assert "Presentada" in page
