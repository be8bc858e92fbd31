"""The dashboard's inline SVG charts: accessible, with the target line, and empty-safe."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.sla.charts import histogram_svg, trend_svg


def test_the_trend_has_a_title_one_dot_per_day_with_data_and_the_dashed_target_line():
    svg = trend_svg([(date(2025, 3, 3), Decimal("0.9")), (date(2025, 3, 4), None), (date(2025, 3, 5), Decimal("0.5"))],
                    title="Espera <por día>", target=Decimal("0.80"))
    assert svg.startswith("<svg") and 'role="img"' in svg and "Espera &lt;por día&gt;" in svg
    assert svg.count('class="punto"') == 2 and "03/03: 90.0 %" in svg and "05/03: 50.0 %" in svg
    assert 'class="meta"' in svg and "Meta 80.0 %" in svg


def test_an_empty_trend_says_so():
    assert "Sin datos en el periodo" in trend_svg([], title="Espera")


def test_the_histogram_has_thirteen_bars_and_the_maximum_wait_line():
    svg = histogram_svg([5, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2], limit_minutes=20, title="Esperas")
    assert svg.count('class="barra"') == 13
    assert "0–5 min: 5 tickets" in svg and "60 min o más: 2 tickets" in svg
    assert "Espera máxima: 20 min" in svg
