"""How HTML forms arrive: every page's POST handler takes its fields as ``data: Form``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
