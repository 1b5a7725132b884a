"""The report's inline SVG bar charts (no script, no external asset)."""

from __future__ import annotations

import html
from collections.abc import Sequence


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hbar_svg(title: str, rows: Sequence[tuple[str, float, float | None]], *, color: str, back: str) -> str:
    """Horizontal bars: (label, value, optional background value drawn lighter behind it)."""
    width, label_w, bar_h, gap, top = 520, 150, 18, 6, 28
    height = top + max(1, len(rows)) * (bar_h + gap) + 8
    biggest = max([1.0, *(max(v, b or 0) for _, v, b in rows)])
    span = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="#1d2330">{_e(title)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" font-size="12" fill="#667">none</text>')
    for index, (label, value, background) in enumerate(rows):
        y = top + index * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end" fill="#1d2330">'
            f"{_e(label[:24])}</text>"
        )
        if background:
            w = max(1.0, span * background / biggest)
            parts.append(
                f'<rect class="bar-back" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{back}">'
                f"<title>{_e(label)}: {background:g}</title></rect>"
            )
        w = max(1.0, span * value / biggest) if value else 0.0
        if w:
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}">'
                f"<title>{_e(label)}: {value:g}</title></rect>"
            )
        shown = f"{value:g}" + (f" / {background:g}" if background else "")
        parts.append(
            f'<text x="{label_w + max(w, span * (background or 0) / biggest) + 4:.1f}" y="{y + 13}" '
            f'font-size="11" fill="#445">{_e(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _vbar_svg(title: str, rows: Sequence[tuple[str, int]], *, color: str) -> str:
    width, height, top, bottom, left = 520, 240, 44, 36, 36
    plot_h = height - top - bottom
    slot = (width - left) / max(1, len(rows))
    biggest = max([1, *(v for _, v in rows)])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="#1d2330">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#99a"/>',
    ]
    for index, (label, value) in enumerate(rows):
        x = left + index * slot + slot * 0.15
        h = plot_h * value / biggest
        if value:
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{max(h, 1.0):.1f}" fill="{color}"><title>{_e(label)} chars: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#445">{value}</text>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" font-size="10" '
            f'text-anchor="middle" fill="#445">{_e(label)}</text>'
        )
    parts.append(
        f'<text x="{left + (width - left) / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle" '
        f'fill="#667">text length (characters)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
