"""The one way text reaches a reportlab ``Paragraph``: escaped by default, markup only from the template.

reportlab parses a Paragraph's text as its own mini-HTML (``<font>``, ``<a href>``, ``<img src>`` read from
the server's disk, ``<b>``...), so a name typed by a user would become markup — or, unbalanced, crash the
render. Every PDF therefore builds its paragraphs with :func:`para` (a template written in the code, whose
``{placeholders}`` are filled with escaped values) or :func:`plain` (text only). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

# C0 controls other than tab and newline (and DEL) have no business in a document; reportlab's parser and
# its fonts choke on some of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(value: Any) -> str:
    """``value`` as literal Paragraph text: ``&``, ``<``, ``>`` and quotes escaped, control characters dropped."""
    text = "" if value is None else str(value)
    return _xml_escape(_CONTROL.sub("", text), {'"': "&quot;", "'": "&#39;"})


def markup(template: str, /, **values: Any) -> str:
    """``template`` (markup written in the code) with each ``{name}`` replaced by the escaped ``values[name]``."""
    return template.format_map({k: escape(v) for k, v in values.items()})


def para(template: str, style: Any, /, **values: Any):  # noqa: ANN201 - reportlab's Paragraph
    """A Paragraph from a code template and escaped values (see :func:`markup`)."""
    from reportlab.platypus import Paragraph

    return Paragraph(markup(template, **values), style)


def plain(value: Any, style: Any):  # noqa: ANN201 - reportlab's Paragraph
    """A Paragraph showing ``value`` exactly as text."""
    from reportlab.platypus import Paragraph

    return Paragraph(escape(value), style)
