"""``FrontierDupeFilter``: Scrapy's duplicate filter (DUPEFILTER_CLASS) for a crawl with a frontier.

The frontier is the seen-set of the article requests (``crawler.frontier``): a request it feeds is never
remembered in memory here, so the filter's set holds only what does not come through the frontier (seeds,
listings, sections, sitemaps, requisites) and memory does not grow with the number of articles. The two
kinds still filter each other, as one in-memory filter did before:

* a request from elsewhere for a URL the frontier has a request for (waiting, fed or done) is a duplicate:
  an article linked from the menu as a section is fetched once, as the article;
* a fed request whose URL an earlier request from elsewhere fetched is a duplicate;
* a redirect of a fed request (RedirectMiddleware copies the request, ``frontier_url`` included) is a
  duplicate when it goes back into its own chain (a redirect loop ends at its second visit) or to a URL the
  frontier has a request for; otherwise its target is recorded in the frontier (``Frontier.mark_hop``, on
  disk), so a later request for it is not fed again.

A duplicate fed request is finished for the frontier (``FrontierMiddleware.done``): its row is DONE, not
waiting nor lost. Redis mode uses scrapy-redis' filter (``crawler.distributed.config``); nothing is fed
there. ``dupefilter/filtered`` counts every duplicate, as Scrapy's does.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter

from crawler.frontier import DONE, PENDING, QUEUED

_REQUESTED = (PENDING, QUEUED, DONE)


class FrontierDupeFilter(RFPDupeFilter):
    crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierDupeFilter:
        dupefilter = super().from_crawler(crawler)
        dupefilter.crawler = crawler
        return dupefilter

    def request_seen(self, request: Request) -> bool:
        frontier = getattr(self.crawler, "frontier", None)
        if frontier is None:
            return super().request_seen(request)
        if not request.meta.get("frontier_url"):
            return frontier.state(request.url) in _REQUESTED or super().request_seen(request)
        hops = request.meta.get("redirect_urls") or ()
        if self._fingerprint(request) in self._fingerprints:
            duplicate = True
        elif not hops:
            return False
        else:
            duplicate = request.url in hops or frontier.state(request.url) in _REQUESTED
            if not duplicate:
                frontier.mark_hop(request.url, str(request.meta.get("site") or ""))
        if duplicate:
            feeder = getattr(self.crawler, "frontier_feeder", None)
            if feeder is not None:
                feeder.done(request, fetched=False)
        return duplicate
