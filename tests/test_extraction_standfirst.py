"""Text that trafilatura's choice of body container leaves out, and the clean-up must not take.

- The standfirst (lead paragraph) between the headline and the body: kept, before the body, while bylines,
  captions beside their credit and a second box (a paywall prompt) stay out.
- An embedded post inside the article whose own words are a statement: kept, with its attribution line (who
  said it, when: the quote's source).
- A German "Weitere …" line mid-article is a subheading; only in the last half does it open a teaser rail.
- A "sidebar" column holding the headline is the article header; a sentence under a "Mehr zum Thema" box stays.
"""

from __future__ import annotations

from extraction import Article, extract
from extraction.cleanup import clean_paragraphs
from extraction.pipeline import Options

URL = "https://news.example/2022/05/council-budget"
SENTENCE = (
    "The council met on Monday to discuss the new budget for the coming year, and members argued at length."
)
LEAD = (
    "The city council approved a budget that doubles spending on public transport, after a debate that "
    "lasted eleven hours."
)
CAPTION = "The council chamber during the debate on Monday evening, seen from the public gallery above."
PAYWALL = "This audio version of the article is a feature for subscribers only, sign in or register today."


def body_paragraphs() -> list[str]:
    return [
        " ".join([SENTENCE] * 3),
        " ".join([SENTENCE.replace("council", "mayor")] * 3),
        " ".join([SENTENCE.replace("budget", "plan")] * 3),
    ]


def page(header: str, body: str | None = None, title: str = "Council approves transport budget") -> bytes:
    body = body if body is not None else "".join(f"<p>{p}</p>" for p in body_paragraphs())
    return f"""<html><head><title>{title}</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<header class="article-header">{header}</header>
<div class="article-body">{body}</div>
<footer><a href="/contact">Contact us</a></footer></body></html>""".encode()


def article(body: bytes, options: Options | None = None) -> Article:
    result = extract(body, URL, options=options) if options else extract(body, URL)
    assert isinstance(result, Article), result
    return result


STANDFIRST_HEADER = f"""<h1>Council approves transport budget</h1>
<p class="byline">By Jane Doe, 4 May 2022</p>
<div class="intro"><p>{LEAD}</p></div>
<div class="hero"><img src="/a.jpg"><span class="text">{CAPTION}</span> <span>Photo: John Smith</span></div>
<div class="audio"><div class="overlay">{PAYWALL}</div></div>"""


def test_standfirst_between_headline_and_body_comes_first() -> None:
    result = article(page(STANDFIRST_HEADER))
    assert result.paragraphs[0] == LEAD
    assert result.paragraphs[1:] == body_paragraphs()
    # The byline, the caption (its credit beside it) and a second box are not the standfirst.
    for furniture in ("Jane Doe", CAPTION, "Photo: John Smith", PAYWALL):
        assert furniture not in result.text


def test_standfirst_is_what_the_stage_adds() -> None:
    without = article(page(STANDFIRST_HEADER), Options(standfirst=False))
    assert LEAD not in without.text
    assert without.paragraphs == body_paragraphs()


def test_headline_found_by_the_title_when_the_page_has_no_h1() -> None:
    header = f'<div class="headline">Council approves transport budget</div><div class="teaser-text"><p>{LEAD}</p></div>'
    assert article(page(header)).paragraphs[0] == LEAD


def test_no_headline_no_standfirst() -> None:
    # Prose above the body with no headline before it may be anything (a promotion, another story's teaser).
    header = f'<div class="promo"><p>{LEAD}</p></div>'
    result = article(page(header, title="Something else entirely"))
    assert LEAD not in result.text
    assert result.paragraphs == body_paragraphs()


def test_credit_in_the_lead_position_is_a_caption() -> None:
    header = f"<h1>Council approves transport budget</h1><p>{CAPTION} (Photo: Reuters)</p>"
    assert CAPTION not in article(page(header)).text


TWEET = "The minister said today that the talks will resume next week in Geneva, with all parties present."


def tweet(text: str) -> str:
    return (
        f'<blockquote class="twitter-tweet" data-lang="en"><p lang="en" dir="ltr">{text}</p>&mdash; '
        'Some Minister (@minister) <a href="https://twitter.com/minister/status/1">May 4, 2022</a></blockquote>'
    )


def test_embedded_post_with_a_statement_stays_with_its_attribution() -> None:
    first, second, third = body_paragraphs()
    html = page(
        "<h1>Council approves transport budget</h1>",
        f"<p>{first}</p>{tweet(TWEET)}<p>{second}</p><p>{third}</p>",
    )
    result = article(html)
    # "— Some Minister (@minister) May 4, 2022" names who said it and when: a quote without it is unattributed.
    assert result.paragraphs == [first, TWEET, "— Some Minister (@minister) May 4, 2022", second, third]


def test_embedded_post_without_a_statement_is_furniture() -> None:
    first, second, third = body_paragraphs()
    html = page(
        "<h1>Council approves transport budget</h1>",
        f"<p>{first}</p>{tweet('Big news!')}<p>{second}</p><p>{third}</p>",
    )
    result = article(html)
    assert result.paragraphs == [first, second, third]


def test_german_weitere_heading_is_a_subheading_mid_article_and_a_rail_at_the_end() -> None:
    body = [
        "Der Hersteller baut in Ohio eine neue Fabrik für Batteriezellen mit mehreren tausend Arbeitsplätzen.",
        "Weitere US-Zellprojekte im Aufbau",
        "In Tennessee und Michigan entstehen zwei weitere Werke, die im kommenden Jahr in Betrieb gehen sollen.",
        "Die Produktion soll dort schrittweise hochgefahren werden, bis die volle Kapazität erreicht ist.",
    ]
    rail = ["Weitere Reportagen aus der Region", "Neue Zellfabrik in Ungarn", "Rohstoffpreise steigen weiter"]
    assert clean_paragraphs(body + rail) == body


def test_a_sidebar_column_holding_the_headline_is_the_article_header() -> None:
    # Magazine themes put the headline, the standfirst and the date in a "sidebar" column beside the body;
    # the column's share bar and tag list are still furniture.
    header_column = f"""<div class="sidebar">
<div class="sidebar__item sidebar__item--header"><p class="h1">Council approves transport budget</p>
<p class="teaser">{LEAD}</p><p class="time">4 May 2022</p></div>
<div class="sidebar__item"><ul class="tags"><li><a href="/t/council">Council</a></li>
<li><a href="/t/transport">Transport</a></li></ul></div>
<div class="sidebar__item"><div class="social"><a href="#">Share on Facebook</a></div></div></div>"""
    body = "".join(f"<p>{p}</p>" for p in body_paragraphs())
    result = article(page("", body=f'{header_column}<div class="post-content">{body}</div>'))
    assert result.paragraphs[0] == LEAD
    assert result.paragraphs[1:] == body_paragraphs()
    assert "Share on Facebook" not in result.text


def test_a_sentence_under_a_more_heading_stays_and_its_link_list_goes() -> None:
    # "Mehr zum Thema: <a sentence pointing to the sources> <a list of links>" closes press releases: the
    # sentence is the author's, the links are a list.
    more = (
        "A detailed overview of the new budget is published by the city, and more information is "
        "available from the transport office:"
    )
    links = "".join(
        f'<li><a href="/doc/{n}">Budget document number {n} of the city</a></li>' for n in range(6)
    )
    body = "".join(f"<p>{p}</p>" for p in body_paragraphs())
    box = f'<div><h2>Mehr zum Thema</h2><p>{more}</p><ul class="link-list">{links}</ul></div>'
    result = article(page("<h1>Council approves transport budget</h1>", body=body + box))
    assert result.paragraphs[-1] == more
    assert result.paragraphs[:-1] == body_paragraphs()
    assert "Budget document number" not in result.text
