"""With TSA_URL, an adhesion's seals are PAdES B-LT (B-LTA with SEALING_LEVEL): the registry records the level
read from the signed file and the public verification page shows it, by code and for an uploaded file, with
the signatures trusted on the revocation data the document carries (no network)."""

from __future__ import annotations

import pytest

from app.adhesion import services
from app.documents import signing
from tests.adhesion_world import walk_to, world  # noqa: F401
from tests.unit.test_long_term_seal import demo_tsa, http_tsa


@pytest.mark.parametrize(("sealing_level", "expected"), [(None, "PAdES B-LT"), ("B-LTA", "PAdES B-LTA")])
async def test_an_adhesion_sealed_with_a_tsa_is_long_term_in_the_registry_and_on_the_public_page(
        client, world, settings, monkeypatch, sealing_level, expected):  # noqa: F811
    identity = signing.sealing_identity(settings)
    assert identity.is_demo
    with http_tsa(demo_tsa(identity)) as url:
        monkeypatch.setattr(settings, "tsa_url", url)
        monkeypatch.setattr(settings, "sealing_level", sealing_level)
        adhesion_id = await walk_to(world, "vigente")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    signed = [r for r in view.revisions if r.kind == "sello_plataforma"]
    assert [r.level for r in signed] == [expected, expected]  # the entity's signature and the countersignature

    code = view.adhesion.document_code
    assert expected in (await client.get(f"/verificar/{code}")).text

    _, pdf = await services.document_pdf(world.gestor, adhesion_id)
    token = await client.csrf()
    r = await client.post("/verificar", data={"_csrf_token": token},
                          files={"pdf": ("clausula.pdf", pdf, "application/pdf")})
    assert r.status_code == 200 and 'data-veredicto="exacto"' in r.text
    summaries = await signing.inspect(pdf, list(identity.chain_roots))
    assert [(s.level, s.trusted) for s in summaries] == [(expected, True), (expected, True)]
    rows = r.text.split("<td>")
    assert sum(1 for cell in rows if cell.startswith(expected)) >= 2 + 2  # registry revisions + file signatures
    assert "Certificado no reconocido" not in r.text
