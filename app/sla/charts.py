"""Server-rendered inline SVG charts (pure: strings in, strings out). No JavaScript, readable by screen
readers (``role="img"`` with a title and a text description), printable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from html import escape

from app.sla.indicators import HISTOGRAM_BUCKET_MINUTES, HISTOGRAM_BUCKETS

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 28


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))} %"


def trend_svg(points: list[tuple[date, Decimal | None]], *, title: str, target: Decimal | None = None,
              ratio: bool = True) -> str:
    """Daily values as a line with dots, and the target as a dashed line."""
    values = [v for _d, v in points if v is not None]
    top = Decimal(1) if ratio else max([*values, target or Decimal(0), Decimal(1)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(points), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(v: Decimal) -> float:
        return TOP + plot_h - float(v / top) * plot_h if top else TOP + plot_h

    parts = [f'<svg class="grafico" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="t-{id(points)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="t-{id(points)}">{escape(title)}</title>']
    for frac in (Decimal(0), Decimal("0.5"), Decimal(1)):
        gy = y(top * frac)
        label = f"{int(top * frac * 100)} %" if ratio else f"{(top * frac).quantize(Decimal('1'))}"
        parts.append(f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" class="eje"/>'
                     f'<text x="{LEFT - 4}" y="{gy + 4:.1f}" text-anchor="end" class="etiqueta">{label}</text>')
    if target is not None:
        ty = y(min(target, top))
        parts.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" class="meta">'
                     f'<title>Meta {_pct(target) if ratio else target}</title></line>')
    path, dots = [], []
    for i, (day, value) in enumerate(points):
        if value is None:
            continue
        px, py = x(i), y(value)
        path.append(f"{'M' if not path else 'L'}{px:.1f},{py:.1f}")
        shown = _pct(value) if ratio else str(value)
        dots.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="punto">'
                    f'<title>{day.strftime("%d/%m")}: {shown}</title></circle>')
    if path:
        parts.append(f'<path d="{" ".join(path)}" class="serie"/>')
    parts.extend(dots)
    step = max(1, n // 8)
    for i, (day, _v) in enumerate(points):
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="etiqueta">'
                         f'{day.strftime("%d/%m")}</text>')
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="etiqueta">'
                     'Sin datos en el periodo</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(buckets: list[int], *, limit_minutes: int | None, title: str) -> str:
    """Waiting times in 5-minute bars; the service's maximum wait as a dashed vertical line."""
    buckets = list(buckets) + [0] * (HISTOGRAM_BUCKETS - len(buckets))
    peak = max(buckets) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / HISTOGRAM_BUCKETS
    parts = [f'<svg class="grafico" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="h-{id(buckets)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title id="h-{id(buckets)}">{escape(title)}</title>',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="eje"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="etiqueta">{peak}</text>']
    for i, count in enumerate(buckets):
        h = plot_h * count / peak
        lo = i * HISTOGRAM_BUCKET_MINUTES
        label = f"{lo}–{lo + HISTOGRAM_BUCKET_MINUTES} min" if i < HISTOGRAM_BUCKETS - 1 else f"{lo} min o más"
        parts.append(f'<rect x="{LEFT + i * bar_w + 1:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                     f'height="{h:.1f}" class="barra"><title>{label}: {count} tickets</title></rect>')
        if i % 2 == 0:
            parts.append(f'<text x="{LEFT + i * bar_w + bar_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                         f'class="etiqueta">{lo}{"+" if i == HISTOGRAM_BUCKETS - 1 else ""}</text>')
    if limit_minutes is not None:
        lx = LEFT + min(limit_minutes / HISTOGRAM_BUCKET_MINUTES, HISTOGRAM_BUCKETS) * bar_w
        parts.append(f'<line x1="{lx:.1f}" y1="{TOP}" x2="{lx:.1f}" y2="{TOP + plot_h}" class="meta">'
                     f'<title>Espera máxima: {limit_minutes} min</title></line>')
    parts.append("</svg>")
    return "".join(parts)
