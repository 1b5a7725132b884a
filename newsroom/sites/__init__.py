"""The five site templates of the offline newsroom, by site name."""

from __future__ import annotations

import logging

from .base import SiteRenderer
from .drupal import DrupalSite
from .feeds import FeedsSite
from .gated import GatedSite
from .legacy import LegacySite
from .wahaa import WahaaSite

logger = logging.getLogger(__name__)

RENDERERS: dict[str, type[SiteRenderer]] = {
    "wahaa": WahaaSite,
    "legacy": LegacySite,
    "feeds": FeedsSite,
    "gated": GatedSite,
    "drupal": DrupalSite,
}
