"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against a
real worker on a real broker.

Playwright's own browser download needs a CDN, so the system browser is launched by its
path (``.ci/run`` installs it when it is missing). The test signs in with the viewer
token, sees the charts and tables render with data, searches an opted-out number, opens
its timeline and finds the STOP; in the recent outcomes panel it finds the suppressed sends
(with their reason), the consent events and the review item, masked, and follows a row's
timeline link (a sealed reference: no number in the page) to the number's timeline, masked
for the viewer. Screenshots are saved in ``.artifacts/`` (git-ignored);
with ``OPTOUT_UPDATE_SCREENSHOT=1`` the dashboard's is copied to ``docs/img/dashboard.png``
(the README's).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.harness import REPO, VIEWER_TOKEN, Collector, Topology, Worker, produce
from tests.integration.test_pipeline import reply, send

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / ".artifacts"
OPTED_OUT = "+14155550181"
CAME_BACK = "+14155550182"
ALSO_OUT = "+14155550183"
DELIVERED = "+14155550184"
SPANISH = "+14155550185"
REVIEWED = "+14155550186"


def traffic() -> tuple[list[dict], list[dict]]:
    replies = [
        reply("b-stop-1", OPTED_OUT, "STOP"),
        reply("b-stop-2", CAME_BACK, "unsubscribe"),
        reply("b-stop-3", ALSO_OUT, "Stop texting me please"),
        reply("b-stop-4", SPANISH, "BAJA"),
        reply("b-review-1", REVIEWED, "we have got to stop this bill"),
    ]
    sends = [send(f"b-send-{n}", number) for n, number in enumerate([OPTED_OUT, ALSO_OUT, DELIVERED, DELIVERED])]
    return replies, sends


async def drive(topology: Topology, worker: Worker) -> None:
    """Replies, then (once they are applied) a START and sends; waits for their outcomes."""
    replies, sends = traffic()
    await produce(topology.bootstrap, topology.inbound, replies)
    for number in (OPTED_OUT, CAME_BACK, ALSO_OUT, SPANISH):
        await until_opted_out(worker, number, True)
    await produce(topology.bootstrap, topology.inbound, [reply("b-start-2", CAME_BACK, "START")])
    await until_opted_out(worker, CAME_BACK, False)
    await produce(topology.bootstrap, topology.outbound, sends)
    async with Collector(topology.bootstrap, [topology.provider, topology.suppressed]) as out:
        await out.until(lambda c: len(c.records[topology.suppressed]) >= 2
                        and sum(r.get("category") != "compliance" for r in c.records[topology.provider]) >= 2)


async def until_opted_out(worker: Worker, number: str, expected: bool) -> None:
    for _ in range(240):
        status, body = worker.get(f"/optouts/{number}")
        if status == 200 and body["opted_out"] is expected:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{number} never became opted_out={expected}")


def until(page, condition, timeout_s: float = 30.0) -> None:
    """Wait for ``condition`` (checked from here: the page's CSP forbids evaluating strings)."""
    for _ in range(int(timeout_s * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"not met after {timeout_s}s: {condition}")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield launched
        finally:
            launched.close()


def test_sign_in_see_the_dashboard_and_a_numbers_timeline(kafka_bootstrap, workers, tmp_path, browser):
    topology = Topology(kafka_bootstrap)
    worker = Worker(topology, tmp_path / "w")
    workers.append(worker)
    worker.start()
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, drive(topology, worker)).result(300)

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"failed: {r.url}"))
    page.on("response", lambda r: failed.append(f"{r.status}: {r.url}") if r.status >= 400 and not (
        r.status == 401 and r.url.endswith("/signin")) else None)  # the wrong token, tried on purpose
    page.on("pageerror", lambda e: failed.append(f"script error: {e}"))
    try:
        page.goto(f"{worker.url}/")
        # not signed in: the form; a wrong token is refused and the form shown again
        page.fill("#token", "not-the-token")
        page.click("button[type=submit]")
        assert page.locator("#signin-error").is_visible()
        assert "not-the-token" not in page.content()
        page.fill("#token", VIEWER_TOKEN)
        page.click("button[type=submit]")
        page.wait_for_selector("#panels")
        cookie = next(c for c in context.cookies() if c["name"] == "optout_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["value"].startswith("viewer.")

        # charts: drawn by uPlot (served by the worker) with opt-outs and opt-ins in them
        for chart in ("#chart-minute", "#chart-hour"):
            page.wait_for_selector(f"{chart} canvas", timeout=15_000)
            until(page, lambda chart=chart: int(page.get_attribute(chart, "data-total") or 0) >= 5)
        # tables: totals, recent outcomes (masked), suppressed, workers, review queue
        until(page, lambda: page.locator("#recent tbody tr").count() >= 5)
        until(page, lambda: page.locator("#recent tbody tr.kind-suppressed").count() >= 2
              and page.locator("#recent tbody tr.kind-review").count() >= 1)
        recent = page.inner_text("#recent")
        assert "opt_out" in recent and "opt_in" in recent
        assert "suppressed" in recent and "opted_out" in recent and "review queued" in recent
        assert OPTED_OUT not in recent and OPTED_OUT[-4:] in recent  # masked: last 4 digits
        html = page.content()
        for number in (OPTED_OUT, CAME_BACK, ALSO_OUT, SPANISH, REVIEWED):  # nowhere in the page, links included
            assert number not in html and number[1:] not in html, number
        links = page.locator("#recent a.timeline")
        assert links.count() >= 5
        suppressed = page.locator("#recent tbody tr.kind-suppressed", has_text=OPTED_OUT[-4:]).first
        link = suppressed.locator("a.timeline").get_attribute("href")
        assert link.startswith("/numbers/ref/")
        until(page, lambda: page.locator("#reviews tbody tr").count() >= 1)
        assert REVIEWED[-4:] in page.inner_text("#reviews") and REVIEWED not in page.inner_text("#reviews")
        assert page.locator("#totals .tile").count() >= 3
        assert "opted_out" in page.inner_text("#suppressed")
        health = page.inner_text("#health")
        assert worker.url in health and re.search(r"\byes\b", health)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        if os.environ.get("OPTOUT_UPDATE_SCREENSHOT") == "1":
            (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ARTIFACTS / "dashboard.png", REPO / "docs" / "img" / "dashboard.png")

        # a suppressed send's row leads to its number's timeline, masked for the viewer
        page.goto(f"{worker.url}{link}")
        assert page.inner_text("#timeline-number") == "+*******" + OPTED_OUT[-4:]
        assert "Opted out" in page.inner_text("#timeline-state")
        assert page.locator("#timeline-events tbody tr.intent-opt_out").count() >= 1
        assert OPTED_OUT not in page.content() and OPTED_OUT[1:] not in page.content()
        page.screenshot(path=str(ARTIFACTS / "timeline-by-link.png"), full_page=True)

        # the search box leads to the number's timeline, which holds the STOP
        page.fill("#search-number", "(415) 555-0181")
        page.click("#search-go")
        page.wait_for_url(re.compile(r"/numbers/%2B14155550181"))
        assert page.inner_text("#timeline-number") == OPTED_OUT
        assert "Opted out" in page.inner_text("#timeline-state")
        stops = page.locator("#timeline-events tbody tr.intent-opt_out")
        assert stops.count() >= 1, page.inner_text("main")
        row = stops.first.inner_text()
        assert "STOP" in row and "applied" in row
        page.screenshot(path=str(ARTIFACTS / "timeline.png"), full_page=True)

        # signing out: the form again, and the data refused
        page.goto(f"{worker.url}/")
        page.click("#signout")
        page.wait_for_selector("#token")
        assert page.request.get(f"{worker.url}/dashboard/data").status == 401
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        (ARTIFACTS / "failure.html").write_text(page.content())
        raise
    finally:
        context.close()
    assert not failed, failed  # every script, style and refresh loaded; no script error
