"""Page furniture shared by every PDF the platform issues (clauses, statements, reports)."""

from __future__ import annotations

from reportlab.pdfgen import canvas as rl_canvas


class PageCountingCanvas(rl_canvas.Canvas):
    """Two passes: pages are kept until the end, then each is decorated knowing the total ('Página n de N').

    Subclasses implement ``_decorate(number, total)`` (footer, verification code and QR, watermarks).
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self._decorate(number, total)
            super().showPage()
        super().save()

    def _decorate(self, number: int, total: int) -> None:
        raise NotImplementedError
