"""The research corpus: the archive's articles as a dataset people can query (no Scrapy here).

``corpus.neardup``   near-duplicate clusters (MinHash + LSH on Arabic-normalised word shingles)
``corpus.entities``  entity tags: the places and actors an article's topic matched, as canonical names
``corpus.dataset``   the Parquet dataset (``dataset/site=<name>/month=<yyyy-mm>/<part>.parquet``) and its writer
``corpus.build``     ``scrapy dataset build`` / ``compact`` over records already in a store
``corpus.query``     DuckDB over the dataset, with the httpfs extension the pip package ships
"""

import os

# The corpus uses numpy for elementwise work only (MinHash, signature comparisons), never BLAS: without this,
# numpy's OpenBLAS starts a thread per core in every process that imports it (each extraction worker, the
# crawler), which doubles the CPU of that import (~50 ms a worker). Set before numpy is imported, and
# inherited by the processes started after (the extraction workers); a value set by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
