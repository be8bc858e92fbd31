"""The audit chain's anchors for the SGP: the list and each sealed file, to keep copies outside the platform."""

from __future__ import annotations

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response

from app.audit_checkpoints import FILE_NAME, anchor_files, has_timestamp, read_anchor
from app.auth.guards import requires_role
from app.config import get_settings
from app.db import ROLE_ADMIN, ROLE_SUPERVISOR_SGP
from app.web.page import Page


class AuditAnchorController(Controller):
    path = "/auditoria/anclas"
    include_in_schema = False
    guards = [requires_role(ROLE_SUPERVISOR_SGP, ROLE_ADMIN)]

    @get("/")
    async def list_anchors(self) -> Page:
        rows = []
        for path in reversed(anchor_files(get_settings().checkpoint_dir())):
            try:
                stored = read_anchor(path)
            except (ValueError, KeyError, TypeError):
                rows.append({"name": path.name, "broken": True})
                continue
            rows.append({"name": path.name, "seq": stored.anchor.seq, "hash": stored.anchor.hash,
                         "at": stored.anchor.at, "timestamped": has_timestamp(stored), "broken": False})
        return Page("home/audit_anchors.html", context={"anchors": rows})

    @get("/{nombre:str}")
    async def download_anchor(self, nombre: FromPath[str]) -> Response:
        path = get_settings().checkpoint_dir() / nombre
        if not FILE_NAME.match(nombre) or not path.is_file():  # only anchor names: no other file of the folder
            raise NotFoundException("No existe esa ancla.")
        return Response(path.read_bytes(), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{nombre}"'})
