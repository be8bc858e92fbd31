"""Clause templates: versioned, edited by the platform administrator only, immutable once published."""

from __future__ import annotations

import pytest

from app.adhesion import services
from app.errors import Conflict, Forbidden, ValidationFailed
from tests.adhesion_world import caller, world  # noqa: F401


async def test_a_new_version_is_drafted_edited_published_and_then_frozen(world):
    admin = caller(world.sgp, "administrador_plataforma")
    template_id = await services.create_template_draft(admin)
    draft = await services.get_template(admin, template_id)
    assert draft.status == "borrador"
    in_use = [t for t in await services.list_templates(admin) if t.status == "publicada"]
    assert len(in_use) == 1 and draft.body == in_use[0].body  # it starts from the text in use
    with pytest.raises(ValidationFailed, match="desconocidos: ministro"):
        await services.update_template(admin, template_id, title=draft.title, body=draft.body + " {ministro}")
    await services.update_template(admin, template_id, title="Cláusula de Adhesión (2027)",
                                   body=draft.body + "\n\n## DÉCIMA · DISPOSICIÓN FINAL\n\nTexto nuevo de {entidad}.")
    await services.publish_template(admin, template_id)
    with pytest.raises(Conflict, match="no se modifica"):
        await services.update_template(admin, template_id, title="Otro título", body=draft.body)
    published = [t for t in await services.list_templates(admin) if t.status == "publicada"]
    assert [t.id for t in published] == [template_id]
    # New adhesions use it and keep it.
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert view.template.id == template_id
    _, pdf = await services.preview_pdf(world.gestor, adhesion_id)
    assert pdf.startswith(b"%PDF-")
    # Publishing a later version retires this one; the adhesion still records the version it used.
    later = await services.create_template_draft(admin)
    await services.publish_template(admin, later)
    assert (await services.get_template(admin, template_id)).status == "retirada"
    assert (await services.get_adhesion(world.gestor, adhesion_id)).template.version == draft.version
    with pytest.raises(Conflict, match="Solo se retira una versión publicada"):
        await services.retire_template(admin, template_id)


async def test_only_the_platform_administrator_edits_templates(world):
    with pytest.raises(Forbidden):
        await services.create_template_draft(world.supervisor)
    with pytest.raises(Forbidden):
        await services.create_template_draft(world.gestor)


async def test_the_template_pages_are_for_the_administrator(client, world):
    from tests.api.test_adhesion_api import sign_in_as

    await sign_in_as(client, world.participant, "gestor_entidad")
    assert (await client.get("/adhesiones/plantillas")).status_code == 403
    await sign_in_as(client, world.sgp, "administrador_plataforma")
    page = await client.get("/adhesiones/plantillas")
    assert page.status_code == 200 and "publicada" in page.text


async def test_the_database_keeps_a_published_text_frozen_even_for_the_administrator(world, db):
    from app.adhesion.models import ClauseTemplate

    admin = caller(world.sgp, "administrador_plataforma")
    published = [t for t in await services.list_templates(admin) if t.status == "publicada"][0]
    with pytest.raises(Exception, match="no se modifica"):
        async with db.transaction(admin.ctx()) as s:
            (await s.get(ClauseTemplate, published.id)).body = "Otro texto"
    assert (await services.get_template(admin, published.id)).body == published.body
