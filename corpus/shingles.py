"""Word shingles of an article's text, after the same Arabic normalisation relevance uses.

Two copies of an agency story differ in hamza spelling, diacritics, digits and punctuation more often than
in words, so the text goes through ``relevance.normalize.tokenize`` first (hamza/alef forms, ى/ي, ة/ه,
tashkeel, Eastern Arabic digits, punctuation). A shingle is ``SHINGLE_WORDS`` consecutive tokens.
"""

from __future__ import annotations

from relevance.normalize import tokenize

SHINGLE_WORDS = 3


def shingles(text: str, words: int = SHINGLE_WORDS, *, tokens: list[str] | None = None) -> set[bytes]:
    """The distinct ``words``-token shingles of ``text`` (UTF-8, ready for hashing).

    ``tokens``: ``tokenize(text)`` when the caller has it already (``text`` is then not read).
    """
    if tokens is None:
        tokens = tokenize(text)
    if len(tokens) < words:
        return {" ".join(tokens).encode("utf-8")} if tokens else set()
    # each token encoded once, each shingle joined as bytes: the same bytes as " ".join(...).encode()
    encoded = [token.encode("utf-8") for token in tokens]
    # the k-th token of every shingle: the slices differ in length, zip stops at the shortest
    return set(map(b" ".join, zip(*(encoded[k:] for k in range(words)), strict=False)))
