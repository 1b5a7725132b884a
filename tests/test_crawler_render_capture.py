"""The capture's matching of DevTools Network events to WARC records, in the orders Chromium may send them.

The raw headers (``requestWillBeSentExtraInfo`` / ``responseReceivedExtraInfo``) come from Chromium's
network stack, the other events from the page's renderer: no order holds between the two. On a loaded
machine the renderer's ``requestWillBeSent`` came after the raw headers of the hop it announced, and the
redirect hop was archived with the raw headers of the response it led to (its status, without its Location
and Set-Cookie lines): ``test_crawler_render``'s redirect test failed under load. Here the events are fed to
the capture directly, in each order, with no browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from archive.capture import Capture, CaptureRef
from crawler.render import capture as capture_module
from crawler.render.capture import BrowserCapture, PageTraffic
from crawler.render.state import RenderState, WarcSink

BASE = "http://127.0.0.1:8081/"
ID = "4879.2"
APP_JS = b"window.x=1;"


class _Session:
    async def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert method == "Network.getResponseBody", method
        return {"body": APP_JS.decode(), "base64Encoded": False}


class _Sink:
    def __init__(self) -> None:
        self.captures: list[Capture] = []

    async def write_capture_async(self, capture: Capture) -> CaptureRef:
        self.captures.append(capture)
        return CaptureRef(
            "test.warc.gz", len(self.captures), 1, "<urn:uuid:x>", capture.url, "2026-12-02T00:00:00Z"
        )


def _request(url: str, **more: Any) -> dict[str, Any]:
    request = {"url": BASE + url, "method": "GET", "headers": {"Accept": "*/*"}}
    return {"requestId": ID, "request": request, "type": "Script", "frameId": "F", **more}


# What Chromium sent for a script behind a redirect (recorded with crawler.render's DevTools session):
# the renderer's events, and the network stack's raw headers of each hop.
HOP = _request("old/app.js")
HOP_REQUEST_RAW = {"requestId": ID, "headers": {"Accept": "*/*", "Cookie": "nr_challenge=ok"}}
HOP_RESPONSE_RAW = {
    "requestId": ID,
    "statusCode": 302,
    "headers": {
        "Location": "/static/app.js",
        "Set-Cookie": "hop=1; Path=/\nhop2=2; Path=/",
        "Content-Length": "0",
    },
}
# The renderer's copy of the redirect's headers has no Set-Cookie line.
REDIRECTED = _request(
    "static/app.js",
    redirectHasExtraInfo=True,
    redirectResponse={"url": BASE + "old/app.js", "status": 302, "headers": {"Location": "/static/app.js"}},
)
SCRIPT_REQUEST_RAW = {
    "requestId": ID,
    "headers": {"Accept": "*/*", "Cookie": "nr_challenge=ok; hop=1; hop2=2"},
}
SCRIPT_RESPONSE_RAW = {
    "requestId": ID,
    "statusCode": 200,
    "headers": {"Content-Type": "application/javascript", "Content-Length": "11", "Set-Cookie": "seen=1"},
}
RESPONSE = {
    "requestId": ID,
    "hasExtraInfo": True,
    "response": {
        "url": BASE + "static/app.js",
        "status": 200,
        "headers": {"Content-Type": "application/javascript", "Content-Length": "11"},
        "encodedDataLength": 100,
    },
}
FINISHED = {"requestId": ID, "encodedDataLength": 111}

Event = tuple[str, dict[str, Any]]
IN_ORDER: list[Event] = [
    ("requestWillBeSent", HOP),
    ("requestWillBeSentExtraInfo", HOP_REQUEST_RAW),
    ("responseReceivedExtraInfo", HOP_RESPONSE_RAW),
    ("requestWillBeSent", REDIRECTED),
    ("requestWillBeSentExtraInfo", SCRIPT_REQUEST_RAW),
    ("responseReceivedExtraInfo", SCRIPT_RESPONSE_RAW),
    ("responseReceived", RESPONSE),
    ("loadingFinished", FINISHED),
]
RAW = {"requestWillBeSentExtraInfo", "responseReceivedExtraInfo"}


def _renderer_late(events: list[Event]) -> list[Event]:
    """Each hop's raw headers before the renderer's events of that hop."""
    return [events[1], events[2], events[0], events[4], events[5], events[3], *events[6:]]


def _raw_last(events: list[Event]) -> list[Event]:
    """All raw headers after the request's loadingFinished."""
    return [e for e in events if e[0] not in RAW] + [e for e in events if e[0] in RAW]


def _run(events: list[Event]) -> list[Capture]:
    async def feed() -> list[Capture]:
        sink = _Sink()
        stats = MemoryStatsCollector(get_crawler())
        capture = BrowserCapture(stats, lambda: cast(WarcSink, sink), lambda *_: None, 1 << 20, 1 << 22)
        state = RenderState(site="test", reason="test", started=0.0)
        traffic = PageTraffic(capture, _Session(), lambda: state, "F")  # type: ignore[arg-type]
        for name, event in events:
            traffic.handlers["Network." + name](event)
            await asyncio.sleep(0.01)  # the captures started run up to where they wait
        await asyncio.gather(*state.tasks)
        assert stats.get_value("render/capture_failed") is None
        return sorted(sink.captures, key=lambda c: c.url)

    return asyncio.run(feed())


def _values(capture: Capture, name: str, *, request: bool = False) -> list[str]:
    headers = capture.request_headers if request else capture.response_headers
    return sorted(v for k, v in headers if k.lower() == name)


@pytest.mark.parametrize(
    "order", [lambda e: e, _renderer_late, _raw_last], ids=["in-order", "renderer-late", "raw-headers-last"]
)
def test_each_hop_is_archived_with_its_own_raw_headers_whatever_the_order(
    order: Callable[[list[Event]], list[Event]],
) -> None:
    hop, script = _run(order(IN_ORDER))
    assert (hop.url, hop.status, hop.body) == (BASE + "old/app.js", 302, b"")
    assert _values(hop, "location") == ["/static/app.js"]
    assert _values(hop, "set-cookie") == ["hop2=2; Path=/", "hop=1; Path=/"]
    assert _values(hop, "cookie", request=True) == ["nr_challenge=ok"]
    assert (script.url, script.status, script.body) == (BASE + "static/app.js", 200, APP_JS)
    assert _values(script, "set-cookie") == ["seen=1"]
    assert _values(script, "location") == []
    assert _values(script, "cookie", request=True) == ["nr_challenge=ok; hop=1; hop2=2"]


def test_a_redirect_hop_without_raw_headers_keeps_its_own_not_the_next_hops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Chromium said the redirect had raw headers but never sent them: the next hop's are not the redirect's
    # (they would leave it without its Location); it keeps the headers the renderer saw.
    monkeypatch.setattr(capture_module, "_EXTRA_INFO_SECONDS", 0.2)
    hop, script = _run([e for e in IN_ORDER if e[1] is not HOP_RESPONSE_RAW])
    assert hop.status == 302
    assert _values(hop, "location") == ["/static/app.js"]
    assert _values(hop, "content-type") == []
    assert script.status == 200 and script.body == APP_JS


def test_raw_headers_of_requests_never_captured_are_not_kept_for_ever() -> None:
    async def feed() -> int:
        stats = MemoryStatsCollector(get_crawler())
        capture = BrowserCapture(stats, lambda: None, lambda *_: None, 1 << 20, 1 << 22)
        traffic = PageTraffic(capture, _Session(), lambda: None, "F")  # type: ignore[arg-type]
        for n in range(1000):  # an idle page: nothing is captured
            request_id = f"9.{n}"
            traffic.handlers["Network.requestWillBeSentExtraInfo"]({"requestId": request_id, "headers": {}})
            traffic.handlers["Network.requestWillBeSent"]({**_request("x"), "requestId": request_id})
            if n % 2:  # only some end with an event of their own
                traffic.handlers["Network.loadingFailed"]({"requestId": request_id})
            traffic.handlers["Network.responseReceivedExtraInfo"]({"requestId": request_id, "headers": {}})
        return len(traffic._early)

    assert asyncio.run(feed()) <= capture_module._MAX_EARLY_EXTRAS
