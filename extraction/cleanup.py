"""Arabic news boilerplate removal, in the DOM before trafilatura and on the paragraphs after it.

The stages live by job: ``extraction.hints`` (class/id hint families, token-matched),
``extraction.tables`` (layout tables of old templates become blocks), ``extraction.dom_cleanup`` (containers,
with evidence beyond their name, and the safety net) and ``extraction.text_cleanup`` (paragraph families:
notices, page tools, breadcrumbs, teaser boxes, comment/author sections, share bars, player and ad labels,
newsletter prompts, markup leaks, repeats). This module is the one import for both stages.
"""

from __future__ import annotations

from extraction.dom_cleanup import SAFETY_NET_SHARE, DomResult, Removal, clean_dom, main_block
from extraction.hints import boilerplate_family, hint_tokens
from extraction.tables import unwrap_layout_tables
from extraction.text_cleanup import clean_paragraphs, clean_text, is_block_heading, noise_rule, strip_markup

__all__ = [
    "SAFETY_NET_SHARE",
    "DomResult",
    "Removal",
    "boilerplate_family",
    "clean_dom",
    "clean_paragraphs",
    "clean_text",
    "hint_tokens",
    "is_block_heading",
    "main_block",
    "noise_rule",
    "strip_markup",
    "unwrap_layout_tables",
]
