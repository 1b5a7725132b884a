"""Packaged topic files (YAML, schema in :mod:`relevance.topic`); ``libya.yaml`` is the default topic."""
