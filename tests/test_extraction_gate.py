"""JsGateDetector decides on content: visible notices, challenge pages and empty shells, not on mere markers."""

from __future__ import annotations

import pytest

from extraction.gate import GateVerdict, JsGateDetector

URL = "https://news.example.ly/2024/05/article-1"

ARTICLE_PARAGRAPHS = "\n".join(
    f"<p>{text}</p>"
    for text in (
        "أعلنت حكومة الوحدة الوطنية في طرابلس، اليوم الخميس، عن إطلاق خطة جديدة لإعادة إعمار المناطق المتضررة "
        "من الفيضانات في مدينة درنة شرق ليبيا، بمشاركة عدد من الشركات المحلية والدولية.",
        "وقال المتحدث باسم الحكومة في مؤتمر صحفي إن الخطة تشمل إعادة بناء الجسور والطرق والمدارس والمستشفيات "
        "التي دمرتها العاصفة دانيال، على أن تنتهي المرحلة الأولى منها خلال ستة أشهر.",
        "وأضاف أن المجلس الرئاسي ومجلس النواب اتفقا على تخصيص ميزانية طارئة للمشروع، داعيا المنظمات الدولية "
        "إلى دعم جهود الإغاثة وتوفير المساكن المؤقتة للأسر النازحة.",
        "من جهتها رحبت بعثة الأمم المتحدة للدعم في ليبيا بالخطة، مؤكدة استعدادها لتقديم الدعم الفني اللازم "
        "ومراقبة تنفيذ المشاريع بما يضمن الشفافية وحسن استخدام الأموال العامة.",
    )
)


def page(body: str, head: str = "", scripts: str = '<script src="/static/app.js"></script>') -> str:
    return (
        '<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>خبر</title>'
        f"{head}{scripts}</head><body>{body}</body></html>"
    )


NAV = '<nav><a href="/">الرئيسية</a> <a href="/libya">ليبيا</a> <a href="/world">العالم</a></nav>'


@pytest.fixture(scope="module")
def detector() -> JsGateDetector:
    return JsGateDetector()


def test_visible_notice_shell_is_gated(detector: JsGateDetector) -> None:
    html = page(NAV + "<div><p>Sorry, you need to enable JavaScript to visit this website.</p></div>")
    assert detector.detect(html, URL) == GateVerdict(True, "js-notice")


def test_visible_arabic_notice_is_gated(detector: JsGateDetector) -> None:
    html = page(NAV + "<div class='msg'>يُرجى تفعيل جافا سكريبت لعرض هذا الموقع</div>")
    assert detector.detect(html.encode("utf-8"), URL) == GateVerdict(True, "js-notice")


def test_seckit_noscript_notice_with_full_article_is_not_gated(detector: JsGateDetector) -> None:
    body = (
        NAV
        + "<noscript><div>Sorry, you need to enable JavaScript to visit this website.</div></noscript>"
        + "<article><h1>خطة لإعادة إعمار درنة</h1>"
        + ARTICLE_PARAGRAPHS
        + "</article>"
    )
    # SecKit hides the body with CSS until a script runs; the text is all there in the HTML.
    head = "<style>body{display:none}</style><script>document.body.style.display='block'</script>"
    assert detector.detect(page(body, head=head), URL) == GateVerdict(False, None)


def test_noscript_notice_alone_on_an_empty_shell_is_gated_for_another_reason(
    detector: JsGateDetector,
) -> None:
    html = page("<noscript>Please enable JavaScript</noscript><div id='root'></div>")
    assert detector.detect(html, URL) == GateVerdict(True, "app-shell")


def test_app_shell_is_gated(detector: JsGateDetector) -> None:
    html = page('<div id="app"></div>', scripts='<script type="module" src="/assets/index-4f1c.js"></script>')
    assert detector.detect(html, URL) == GateVerdict(True, "app-shell")


def test_server_rendered_next_page_is_not_gated(detector: JsGateDetector) -> None:
    html = page(f'<div id="__next"><main>{ARTICLE_PARAGRAPHS}</main></div>')
    assert not detector.detect(html, URL).gated


def test_cloudflare_jsd_beacon_on_full_article_is_not_gated(detector: JsGateDetector) -> None:
    beacon = (
        "<script>(function(){function c(){var b=a.contentDocument||a.contentWindow.document;if(b){"
        "var d=b.createElement('script');d.innerHTML=\"window.__CF$cv$params={r:'8c1f',t:'MTcx'};"
        "var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';"
        "document.getElementsByTagName('head')[0].appendChild(a);\";b.getElementsByTagName('head')[0]"
        ".appendChild(d)}}})();</script>"
    )
    html = page(NAV + "<article><h1>خطة لإعادة إعمار درنة</h1>" + ARTICLE_PARAGRAPHS + "</article>" + beacon)
    assert detector.detect(html, URL) == GateVerdict(False, None)


def test_cloudflare_challenge_page_is_gated(detector: JsGateDetector) -> None:
    html = (
        "<!DOCTYPE html><html lang='en-US'><head><title>Just a moment...</title></head><body>"
        "<div class='main-wrapper' role='main'><div class='main-content'>"
        "<noscript><div>Enable JavaScript and cookies to continue</div></noscript></div></div>"
        "<script>(function(){window._cf_chl_opt={cvId:'3',cZone:'news.example.ly',cType:'managed'};"
        "var cpo=document.createElement('script');cpo.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page"
        "/v1?ray=8c1f';document.getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"
    )
    assert detector.detect(html, URL) == GateVerdict(True, "challenge-marker")


def test_cookie_and_reload_challenge_is_gated(detector: JsGateDetector) -> None:
    html = (
        "<html><head><title>...</title></head><body><p>Loading</p><script>"
        "document.cookie='nr_challenge=' + (7*6) + '; path=/';location.reload();</script></body></html>"
    )
    assert detector.detect(html, URL) == GateVerdict(True, "challenge-marker")


def test_ddos_guard_page_is_gated(detector: JsGateDetector) -> None:
    html = (
        "<html><head><title>DDoS-Guard</title><script src='https://check.ddos-guard.net/check.js'></script>"
        "</head><body><div>Checking your browser before accessing news.example.ly</div></body></html>"
    )
    assert detector.detect(html, URL) == GateVerdict(True, "challenge-marker")


def test_too_short_with_scripts_is_gated(detector: JsGateDetector) -> None:
    html = page(NAV + "<div class='content'><span>جار التحميل</span></div>")
    assert detector.detect(html, URL) == GateVerdict(True, "too-short")


def test_short_page_without_scripts_is_not_gated(detector: JsGateDetector) -> None:
    html = page(NAV + "<p>لا توجد نتائج</p>", scripts="")
    assert not detector.detect(html, URL).gated


def test_section_page_of_links_is_not_gated(detector: JsGateDetector) -> None:
    links = "".join(
        f'<li><a href="/news/{i}">عنوان خبر رقم {i} عن الأوضاع في ليبيا اليوم</a></li>' for i in range(40)
    )
    html = page(NAV + f"<ul>{links}</ul>")
    assert not detector.detect(html, URL).gated


def test_normal_arabic_article_is_not_gated(detector: JsGateDetector) -> None:
    html = page(NAV + "<article><h1>خطة لإعادة إعمار درنة</h1>" + ARTICLE_PARAGRAPHS + "</article>")
    assert detector.detect(html.encode("utf-8"), URL) == GateVerdict(False, None)


def test_article_mentioning_a_challenge_is_not_gated(detector: JsGateDetector) -> None:
    text = "<p>Checking your browser و DDoS-Guard و window._cf_chl_opt عبارات تظهر في صفحات الحماية.</p>"
    html = page(NAV + "<article>" + text + ARTICLE_PARAGRAPHS + "</article>")
    assert not detector.detect(html, URL).gated


def test_windows_1256_bytes_are_read(detector: JsGateDetector) -> None:
    html = page(NAV + "<article>" + ARTICLE_PARAGRAPHS + "</article>").replace("utf-8", "windows-1256")
    assert not detector.detect(html.encode("cp1256"), URL).gated


def test_empty_and_bad_input_is_not_gated(detector: JsGateDetector) -> None:
    assert detector.detect(b"", URL) == GateVerdict(False, None)
    assert detector.detect("   ", URL) == GateVerdict(False, None)
    assert detector.detect('<?xml version="1.0" encoding="utf-8"?><urlset></urlset>', URL) == GateVerdict(
        False, None
    )


def test_bad_thresholds_are_rejected() -> None:
    with pytest.raises(ValueError, match="min_text_chars"):
        JsGateDetector(min_text_chars=600, article_text_chars=500)
