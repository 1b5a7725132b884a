"""Item pipelines: extraction (process pool), relevance, storage."""
