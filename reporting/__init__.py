"""Operator views of a crawl, without Scrapy: the report model, its Markdown and HTML, charts, drift health.

``reporting.model.build_report`` aggregates the stats and manifest lines into a ``CrawlReport``;
``reporting.markdown`` and ``reporting.html`` (with ``reporting.charts``) render it; ``reporting.health``
keeps each site's extraction health per run and detects layout drift; ``reporting.stats_keys`` names the
stats the report, the metrics endpoint and the progress line read; ``reporting.formatting`` writes numbers,
sizes, durations and stats for all of them. ``crawler.report`` is the Scrapy glue.
"""
