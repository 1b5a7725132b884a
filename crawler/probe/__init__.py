"""``scrapy probe``: onboarding a site. What discovery finds on it, and the sources entry it needs.

- ``spider``: ``ProbeSpider``, the polite, budgeted look at one site through the crawl's own downloader
  stack (scope guard, robots.txt, host gate) and its own discovery, focus, extraction and relevance code;
- ``pattern``: the article URL shape learned from sitemap and feed URLs (``article_pattern``);
- ``report``: what was found, the proposed entry (checked by ``crawler.sources``) and the printed text.

The command is ``crawler.commands.probe``.
"""
