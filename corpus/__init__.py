"""The research corpus: the archive's articles as a dataset people can query (no Scrapy here).

``corpus.neardup``   near-duplicate clusters (MinHash + LSH on Arabic-normalised word shingles)
``corpus.entities``  entity tags: the places and actors an article's topic matched, as canonical names
``corpus.dataset``   the Parquet dataset (``dataset/site=<name>/month=<yyyy-mm>/<part>.parquet``) and its writer
``corpus.build``     ``scrapy dataset build`` / ``compact`` over records already in a store
``corpus.query``     DuckDB over the dataset, with the httpfs extension the pip package ships
"""
