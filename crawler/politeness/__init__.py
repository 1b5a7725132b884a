"""Politeness beyond Scrapy's own download slots: robots.txt as RFC 9309 says, Crawl-delay, host back-off.

Scrapy paces each download slot (``download_slot``: host and port here, so sites sharing an address are
paced apart) with DOWNLOAD_DELAY, AutoThrottle and CONCURRENT_REQUESTS_PER_DOMAIN. On top of that:

- ``robots``: ``PolitenessRobotsTxtMiddleware`` replaces Scrapy's robots.txt middleware: a 5xx (or 429) or
  unreachable robots.txt means nothing of that host is fetched (asked again later in the crawl); 4xx means
  allow; ``Crawl-delay`` becomes the host's minimum delay; robots.txt itself is fetched in its host's slot.
- ``gate``: ``HostGate``, the last step before a request goes on the wire. It holds a host after a 429/503
  (for its Retry-After, or a doubling back-off), spaces requests by the host's Crawl-delay and, in a
  distributed crawl, applies the slot's delay and concurrency for the whole cluster
  (``crawler.distributed.hostgate.RedisHostGate``).
- ``extension``: ``HostPolitenessExtension`` puts the gate in front of the download handlers.
- ``config``: ``PolitenessConfig``, the settings these read.
"""
