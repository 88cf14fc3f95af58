"""Show a cluster EXPLAIN: the distributed plan as text and as a drawn DAG of stages."""

from __future__ import annotations

import html
from typing import Any

from ..lineage.layout import layered_layout
from ..render import svg_as_img
from ..result import Result

_W, _H = 230.0, 46.0
_COLORS = {"table": "#eef4fb", "workers": "#eef8ee", "coordinator": "#fbf3e6"}


class ExplainView:
    """The text of the distributed plan plus an SVG of its stages (tables -> stages -> result).

    Saved notebooks keep both (``text/html``); terminals get the text.
    """

    def __init__(self, result: Result) -> None:
        if result.explain is None:
            raise ValueError("not the result of EXPLAIN of a distributed query")
        self.result = result
        self.text: str = result.explain.text
        self.graph: dict[str, Any] = result.explain.graph.to_dict()

    def __repr__(self) -> str:
        return self.text

    def to_arrow(self) -> Any:
        return self.result.to_arrow()

    def svg(self) -> str:
        nodes = {n["id"]: n for n in self.graph["nodes"]}
        edges = [(e["source"], e["target"]) for e in self.graph["edges"]]
        layout = layered_layout({nid: (_W, _H) for nid in nodes}, edges)
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{layout.width:.0f}"'
            f' height="{layout.height:.0f}" font-family="sans-serif" font-size="11">'
        ]
        kinds = {(e["source"], e["target"]): e for e in self.graph["edges"]}
        for route in layout.routes:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in route.points)
            out.append(f'<polyline points="{pts}" fill="none" stroke="#888"/>')
            edge = kinds.get((route.source, route.target))
            if edge and len(route.points) >= 2:
                (x1, y1), (x2, y2) = route.points[-2], route.points[-1]
                label = edge["kind"] + (f" by {', '.join(edge['keys'])}" if edge["keys"] else "")
                out.append(
                    f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" fill="#666"'
                    f' text-anchor="middle" font-size="9">{html.escape(label)}</text>'
                )
        for nid, box in layout.boxes.items():
            n = nodes[nid]
            fill = _COLORS.get(n["kind"] if n["kind"] == "table" else n["location"], "#f4f4f4")
            title = n["label"] if n["kind"] == "table" else f"{n['label']}"
            where = (
                "table"
                if n["kind"] == "table"
                else f"{n['location']} ×{n['parallelism']} · {n['rows']:,} rows · {n['seconds']:.3f} s"
            )
            out.append(
                f'<g><rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.0f}"'
                f' height="{box.height:.0f}" rx="5" fill="{fill}" stroke="#999"/>'
                f'<text x="{box.x + 8:.1f}" y="{box.y + 18:.1f}" font-weight="bold">'
                f"{html.escape(_clip(title, 34))}</text>"
                f'<text x="{box.x + 8:.1f}" y="{box.y + 35:.1f}" fill="#555">'
                f"{html.escape(_clip(where, 40))}</text></g>"
            )
        out.append("</svg>")
        return "".join(out)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        svg = self.svg()
        return {"image/svg+xml": svg, "text/html": self._html(svg), "text/plain": self.text}

    def _repr_html_(self) -> str:
        return self._html(self.svg())

    def _html(self, svg: str) -> str:
        # an <img>, not inline <svg>: untrusted notebooks sanitize <svg> away
        return (
            f'<div class="sqlweave-explain">{svg_as_img(svg, "distributed plan stages")}'
            f'<pre style="font-size:11px">{html.escape(self.text)}</pre></div>'
        )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
