"""Surface forms of a normalised Arabic term: the clitics and endings under which it appears in running text.

Arabic writes conjunctions, prepositions and the article onto the word, so the place ``طرابلس`` shows up as
``وطرابلس``, ``بطرابلس``, ``لطرابلس``, ``وبطرابلس``; ``الجفرة`` as ``بالجفرة``, ``للجفرة``, ``والجفرة``.
Rather than stripping letters from every text token (which turns ``وادي`` into ``ادي``), each topic term is
expanded once into the exact set of token spellings it may take; matching is then a dictionary lookup and
nothing outside that set can match (``ليبيريا`` is not a form of ``ليبيا``, ``سرتي`` is not a form of ``سرت``).

Rules (all on normalised text, so ``ة`` is already ``ه``):

- proclitics: an optional conjunction ``و``/``ف`` then an optional preposition ``ب``/``ل``/``ك``;
- a term written with the article (``الجفره``) keeps it: ``ب``/``ك`` attach before it (``بالجفره``),
  ``ل`` fuses with it (``للجفره``; with a lam-initial noun also ``لليبي``), and the bare ``جفره`` is *not* a form;
- a term without the article never takes one (``الحفتر`` is not a form of ``حفتر``);
- short bare terms (``SHORT_TERM_LETTERS`` letters or fewer, e.g. ``سرت``) take only ``و``/``ب``/``ل``:
  ``كسرت`` (broke) and ``فسرت`` (explained) are ordinary verbs;
- ``nisba`` terms (demonyms such as ``ليبي``) also take the adjective/plural endings in ``NISBA_SUFFIXES`` and the
  article: ``ليبيه``, ``الليبيون``, ``والليبيين``, ``لليبيات``;
- tokens that are not Arabic (``libya``, ``haftar``) match only as themselves.
"""

from __future__ import annotations

__all__ = ["NISBA_SUFFIXES", "SHORT_TERM_LETTERS", "surface_forms"]

ARTICLE = "ال"
CONJUNCTIONS = ("", "و", "ف")
PREPOSITIONS = ("", "ب", "ل", "ك")
SHORT_CONJUNCTIONS = ("", "و")
SHORT_PREPOSITIONS = ("", "ب", "ل")
# singular fem., masc. pl. nominative/oblique, fem. pl., dual (ة already normalised to ه)
NISBA_SUFFIXES = ("", "ه", "ون", "ين", "ات", "ان")
SHORT_TERM_LETTERS = 3


def _is_arabic(token: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in token)


def _with_article(noun: str, conjunctions: tuple[str, ...]) -> dict[str, int]:
    """Forms of ``ال`` + ``noun`` with proclitics; value = letters added before the article."""
    forms: dict[str, int] = {}
    for conj in conjunctions:
        for prep in ("", "ب", "ك"):
            forms.setdefault(conj + prep + ARTICLE + noun, len(conj + prep))
        # ل + ال fuse to لل; before a lam-initial noun the article's lam goes too (ل + الليل = لليل)
        forms.setdefault(conj + "لل" + noun, len(conj) + 1)
        if noun.startswith("ل"):
            forms.setdefault(conj + "ل" + noun, len(conj) + 1)
    return forms


def _bare(word: str, conjunctions: tuple[str, ...], prepositions: tuple[str, ...]) -> dict[str, int]:
    forms: dict[str, int] = {}
    for conj in conjunctions:
        for prep in prepositions:
            forms.setdefault(conj + prep + word, len(conj + prep))
    return forms


def surface_forms(token: str, *, nisba: bool = False) -> dict[str, int]:
    """Map each spelling ``token`` may take in normalised text to how many clitic letters it adds.

    ``token`` must already be normalised. The count lets a matcher prefer the reading with fewer clitics
    when two terms share a spelling.
    """
    if not token or not _is_arabic(token):
        return {token: 0}
    forms: dict[str, int] = {}
    if token.startswith(ARTICLE) and len(token) > len(ARTICLE):
        noun = token[len(ARTICLE) :]
        nouns = [noun + suffix for suffix in NISBA_SUFFIXES] if nisba else [noun]
        for n in nouns:
            for form, added in _with_article(n, CONJUNCTIONS).items():
                forms.setdefault(form, added)
        return forms
    stems = [token + suffix for suffix in NISBA_SUFFIXES] if nisba else [token]
    short = not nisba and len(token) <= SHORT_TERM_LETTERS
    conjunctions = SHORT_CONJUNCTIONS if short else CONJUNCTIONS
    prepositions = SHORT_PREPOSITIONS if short else PREPOSITIONS
    for stem in stems:
        for form, added in _bare(stem, conjunctions, prepositions).items():
            forms.setdefault(form, added)
        if nisba:
            for form, added in _with_article(stem, CONJUNCTIONS).items():
                forms.setdefault(form, added)
    return forms
