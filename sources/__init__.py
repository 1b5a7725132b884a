"""Sources files (YAML): which sites the libya spider crawls. Data, not code."""
