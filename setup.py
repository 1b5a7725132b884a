"""setuptools shim so `scrapyd-deploy` can build an egg (it runs `setup.py bdist_egg`).

All metadata lives in pyproject.toml; the `scrapy` entry point (settings = crawler.settings) is declared
there and is what scrapyd reads from the egg.
"""

from setuptools import setup

setup()
