"""The layout every Plotly figure starts from: transparent backgrounds, so the stylesheet's
light or dark surface shows through (the stylesheet also recolours text and grid lines)."""
from __future__ import annotations

from typing import Any

CHART_LAYOUT: dict[str, Any] = {"template": "plotly_white", "paper_bgcolor": "rgba(0,0,0,0)",
                                "plot_bgcolor": "rgba(0,0,0,0)",
                                "font": {"family": "system-ui, -apple-system, sans-serif"}}
