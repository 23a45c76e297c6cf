"""Equations as images: each line of :meth:`ODEModel.latex` rendered by matplotlib's mathtext to an SVG data URI.

No TeX installation and no CDN (MathJax, KaTeX) is needed to view the report; a line that mathtext cannot parse is
shown as plain text instead.
"""

from __future__ import annotations

import base64
import io
import re
import warnings

from matplotlib.figure import Figure

__all__ = ["latex_lines", "equation_image"]


def latex_lines(latex: str) -> list[str]:
    """The lines of an ``aligned`` environment, without alignment marks."""
    body = re.sub(r"\\(begin|end)\{aligned\}", "", latex)
    lines = [line.replace("&", "").strip() for line in body.split("\\\\") if line.strip()]
    # mathtext drops the space TeX leaves between adjacent names: write the product as a centred dot
    product = re.compile(r"\}\s+(?!\\(?:right|end|cdot|to)\b)(?=\\mathrm\{|[A-Za-z0-9(\\])")
    return [product.sub(r"} \\cdot ", line) for line in lines]


def equation_image(tex: str, fontsize: float = 13) -> str | None:
    """An SVG data URI of one formula, or ``None`` when mathtext cannot render it."""
    fig = Figure(figsize=(0.1, 0.1))
    fig.text(0, 0, f"${tex}$", fontsize=fontsize)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.03, transparent=True)
    except ValueError:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
