"""The dashboard's recent outcomes panel (issue "The first five minutes", item 2): the tails of
sms.consent, sms.suppressed and sms.review, their rows (masked, newest first, bounded), the
sealed references their timeline links carry, and the timeline page a link leads to (masked
for a viewer, audited), on the real web server with the fake host (no Kafka: the records are
handed to the application's tail as its consumer hands them)."""

from __future__ import annotations

import base64
import re
import time

import pytest

from app.records import dumps
from app.runtime.cluster_keys import ClusterKeys
from app.runtime.web import dashboard
from app.runtime.web import dashboard_data as dd
from app.runtime.web.access import Grant, Role, token_id
from app.runtime.web.api_models import DashboardData
from app.runtime.web.consent_tail import LogTail
from app.settings import Settings
from tests.unit.app.runtime.web.conftest import (
    CLUSTER_SECRET,
    TOKEN,
    VIEWER_TOKEN,
    audited,
    auth,
    exchange,
    request,
    viewer,
    written_anywhere,
)
from tests.unit.app.runtime.web.test_timeline_api import NUMBER as KNOWN  # the number the fixture's table holds
from tests.unit.app.runtime.web.test_timeline_api import table as timeline_table  # noqa: F401 - a fixture

STOPPED, CAME_BACK, SUPPRESSED, REVIEWED = "+14155550281", "+14155550282", "+14155550283", "+14155550284"
WHOLE = [STOPPED, CAME_BACK, SUPPRESSED, REVIEWED, KNOWN]


def at(second: int) -> str:
    return f"2026-11-29T13:58:{second:02d}.5+00:00"


def consent(number: str, intent: str, second: int, account: str = "acme", verdict: str = "applied") -> bytes:
    return dumps({"number": number, "account_id": account, "intent": intent, "source": "keyword", "rule": "keyword",
                  "matched": "stop" if intent == "opt_out" else "start", "body": "STOP please, call 4155550999",
                  "verdict": verdict, "previous_state": None, "new_state": "opted_out" if intent == "opt_out"
                  else "subscribed", "event_time": at(second - 1), "processed_at": at(second), "message_id": "m",
                  "scope": "account"})


def suppressed(to: object, reason: str, second: int, account: object = "acme") -> bytes:
    return dumps({"reason": reason, "suppressed_at": at(second), "opted_out_at": at(1) if reason == "opted_out"
                  else None, "detail": None if reason == "opted_out" else "no usable number",
                  "message": {"message_id": f"send-{second}", "account_id": account, "to": to,
                              "body": "Your code is 123456, call +14155550999"}})


def review(number: str, second: int) -> bytes:
    return dumps({"review_id": "3.0123456789abcdef01", "account_id": "acme", "number": number, "message_id": "r",
                  "body": "we have got to stop this bill", "matched": "stop", "rule": "embedded_keyword",
                  "event_time": at(second - 1), "deadline": "2026-12-11T13:58:00+00:00", "queued_at": at(second)})


def fill(tail: LogTail, settings: Settings) -> None:
    """Records of the three logs, in the order a consumer could hand them (not by time)."""
    for topic, value in [
        (settings.consent_topic, consent(STOPPED, "opt_out", 10)),
        (settings.suppressed_topic, suppressed("(415) 555-0283", "opted_out", 30)),
        (settings.consent_topic, consent(CAME_BACK, "opt_in", 20)),
        (settings.review_topic, review(REVIEWED, 40)),
        (settings.suppressed_topic, suppressed(None, "no_phone", 35, account=None)),
        (settings.consent_topic, consent(KNOWN, "opt_out", 5)),
        ("sms.elsewhere", consent(STOPPED, "opt_out", 50)),  # a topic the tail does not read
        (settings.suppressed_topic, b"not json"),
        (settings.review_topic, None),
    ]:
        tail._take(value, topic)


# ------------------------------------------------------------ the tail (pure bookkeeping)


def test_the_tail_keeps_the_three_logs_bounded_and_merges_them_newest_first(tmp_path):
    settings = Settings(data_dir=tmp_path)
    tail = LogTail(settings, keep=3)
    assert tail.topics == ("sms.consent", "sms.suppressed", "sms.review")
    fill(tail, settings)
    assert [len(tail.kept[t]) for t in tail.topics] == [3, 2, 1]
    rows = tail.outcomes(10)
    assert [(topic, kept.get("processed_at") or kept.get("suppressed_at") or kept.get("queued_at"))
            for topic, kept in rows] == [("sms.review", at(40)), ("sms.suppressed", at(35)),
                                         ("sms.suppressed", at(30)), ("sms.consent", at(20)),
                                         ("sms.consent", at(10)), ("sms.consent", at(5))]
    assert len(tail.outcomes(2)) == 2
    for _, kept in rows:  # no reply text, no message body is kept
        assert "body" not in kept and "message" not in kept and "4155550999" not in str(kept)
    assert tail.kept["sms.suppressed"][1]["account_id"] == "default"  # a send without one: as it was keyed
    for n in range(10):
        tail._take(review(REVIEWED, n), "sms.review")
    assert len(tail.kept["sms.review"]) == 3  # bounded per log
    assert sum(tail.rates["opt_out"].values()) == 2 and sum(tail.rates["opt_in"].values()) == 1


def test_times_that_are_not_iso_times_with_an_offset_sort_last(tmp_path):
    settings = Settings(data_dir=tmp_path)
    tail = LogTail(settings)
    tail._take(dumps({"number": STOPPED, "intent": "opt_out", "processed_at": "yesterday"}), "sms.consent")
    tail._take(consent(CAME_BACK, "opt_in", 20), "sms.consent")
    assert [kept["number"] for _, kept in tail.outcomes(5)] == [CAME_BACK, STOPPED]


def test_rows_are_masked_and_name_the_number_their_link_seals(tmp_path):
    settings = Settings(data_dir=tmp_path)
    tail = LogTail(settings)
    fill(tail, settings)
    rows = {row["at"]: (row, number) for row, number in
            (dd.outcome_row(settings, topic, kept) for topic, kept in tail.outcomes(10))}
    for row, _ in rows.values():
        assert tuple(row) == dd.OUTCOME_KEYS
    sent, number = rows[at(30)]
    assert (sent["kind"], sent["reason"], sent["account_id"], sent["number"], number) == (
        "suppressed", "opted_out", "acme", "+*******0283", SUPPRESSED)  # the recipient as written, read as E.164
    assert sent["event_time"] == at(1)  # when the number opted out
    nothing, number = rows[at(35)]
    assert (nothing["reason"], nothing["number"], number, nothing["detail"]) == ("no_phone", "", None,
                                                                               "no usable number")
    queued, number = rows[at(40)]
    assert (queued["kind"], queued["number"], queued["matched"], number) == ("review", "+*******0284", "stop",
                                                                             REVIEWED)
    event, number = rows[at(10)]
    assert (event["kind"], event["intent"], event["source"], event["verdict"], event["number"], number) == (
        "consent", "opt_out", "keyword", "applied", "+*******0281", STOPPED)


# ------------------------------------------------------------ sealed references


def grant(token: str = VIEWER_TOKEN, role: Role = Role.VIEWER) -> Grant:
    return Grant(role, "cookie", token_id(token))


def test_a_reference_opens_for_the_same_token_within_its_time_only(tmp_path):
    keys = ClusterKeys(Settings(data_dir=tmp_path, cluster_secret=CLUSTER_SECRET))
    refs = dd.References(keys)
    ref = refs.make(grant(), STOPPED, "acme", now_s=1_000_000)
    assert refs.open(ref, grant(), now_s=1_000_000 + dd.REF_TTL_S - 1) == (STOPPED, "acme")
    assert dd.References(ClusterKeys(Settings(data_dir=tmp_path, cluster_secret=CLUSTER_SECRET))).open(
        ref, grant(), now_s=1_000_000) == (STOPPED, "acme")  # another worker of the cluster opens it
    assert refs.open(ref, grant(), now_s=1_000_000 + dd.REF_TTL_S + 1) is None  # expired
    assert refs.open(ref, grant(TOKEN, Role.ADMIN), now_s=1_000_000) is None  # made for another token
    other = dd.References(ClusterKeys(Settings(data_dir=tmp_path, cluster_secret="another-cluster-secret-0123")))
    assert other.open(ref, grant(), now_s=1_000_000) is None
    raw = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4))
    assert STOPPED[1:].encode() not in raw and b"acme" not in raw  # sealed: the number is not in it
    flipped = ref[:-2] + ("A" if ref[-2] != "A" else "B") + ref[-1]
    for bad in (flipped, "", "x", ref + "A", "é" * 10, "A" * 5000, "+" + ref[1:], ref + "="):
        assert refs.open(bad, grant(), now_s=1_000_000) is None, bad
    assert refs.make(grant(), STOPPED, "acme") != refs.make(grant(), STOPPED, "acme")  # a fresh nonce each time


# ------------------------------------------------------------ the panel, on the web server


@pytest.fixture
def tail(served, fake, monkeypatch):
    """The application's tail (the access-logged server's), holding the records of :func:`fill`
    and never asking a broker."""
    tail = served.access.app[dashboard.TAIL]

    async def refreshed() -> None:
        tail.available, tail.error = True, None
        tail._refreshed = time.monotonic()

    monkeypatch.setattr(tail, "_refresh", refreshed)
    tail._refreshed, tail._failed = 0.0, 0.0
    fill(tail, served.settings)
    yield tail
    for kept in tail.kept.values():
        kept.clear()
    tail.available, tail._refreshed = False, 0.0


def get(served, path: str, headers: dict | None = None):
    return exchange(served.access_port, request("GET", path, headers=headers))


def no_whole_number(text: str, but: str | None = None) -> None:
    leaked = [n for n in WHOLE if n != but and written_anywhere(n[1:], text)]
    assert not leaked, leaked


def test_the_panel_shows_every_kind_of_outcome_masked_newest_first_with_timeline_links(served, fake, tail):
    fake.published.clear()
    reply = get(served, "/dashboard/panels", viewer())
    assert reply.status == 200
    page = reply.body.decode()
    section = page[page.index('id="recent"'):]
    section = section[:section.index("</section>")]
    rows = re.findall(r'<tr class="kind-(\w+)[^"]*">(.*?)</tr>', section, re.S)
    assert [kind for kind, _ in rows] == ["review", "suppressed", "suppressed", "consent", "consent", "consent"]
    assert "+*******0284" in rows[0][1] and "embedded_keyword" in rows[0][1]
    assert "opted_out" in rows[2][1] and "+*******0283" in rows[2][1] and "acme" in rows[2][1]
    assert "no_phone" in rows[1][1] and 'class="timeline"' not in rows[1][1]  # no number: nothing to link
    assert "opt_in" in rows[3][1] and "opt_out" in rows[4][1] and "source keyword" in rows[4][1]
    links = re.findall(r'<a class="timeline" href="(/numbers/ref/[A-Za-z0-9_-]+)">', section)
    assert len(links) == 5
    no_whole_number(page)
    (record,) = audited(fake.published)
    assert record["route"] == "/dashboard/panels" and record["numbers_returned"] == 5  # the rows with a number


def test_the_data_answer_holds_the_panel_in_its_declared_shape(served, fake, tail):
    reply = get(served, "/dashboard/data", viewer())
    assert reply.status == 200
    data = DashboardData.model_validate_json(reply.body)  # every key, every type (api_models)
    recent = data.recent
    assert recent.available and recent.limit == dd.OUTCOMES_SHOWN
    assert [e.kind for e in recent.events] == ["review", "suppressed", "suppressed", "consent", "consent", "consent"]
    assert [e.at for e in recent.events] == sorted((e.at for e in recent.events), reverse=True)
    assert all(e.timeline is None or e.timeline.startswith("/numbers/ref/") for e in recent.events)
    no_whole_number(reply.body.decode())
    assert audited(fake.published)[-1]["numbers_returned"] == data.numbers_shown == 5


def test_the_panel_is_bounded(served, fake, tail):
    for n in range(dd.OUTCOMES_SHOWN + 30):
        tail._take(suppressed(f"+1415555{n:04d}", "opted_out", n % 60), served.settings.suppressed_topic)
    events = get(served, "/dashboard/data", viewer()).json()["recent"]["events"]
    assert len(events) == dd.OUTCOMES_SHOWN


def link_of(served, number: str, headers: dict) -> str:
    events = get(served, "/dashboard/data", headers).json()["recent"]["events"]
    return next(e["timeline"] for e in events if e["number"].endswith(number[-4:]))


@pytest.mark.usefixtures("timeline_table")
def test_a_viewer_follows_a_link_to_the_masked_timeline_and_it_is_audited_with_the_number(served, fake, tail):
    link = link_of(served, KNOWN, viewer())
    fake.published.clear()
    reply = get(served, link, viewer())
    assert reply.status == 200, reply.body[:300]
    page = reply.body.decode()
    assert 'id="timeline-state"' in page and 'id="timeline-masked"' in page and "Opted out" in page
    assert f"+*******{KNOWN[-4:]}" in page
    no_whole_number(page)
    assert not written_anywhere("18005550000", page)  # the number written to: masked too
    assert "STOP" in page  # the reply's text (masked, it has no number)
    (record,) = audited(fake.published)
    assert record["route"] == "/numbers/ref/{ref}" and record["numbers_returned"] == 1
    assert record["reference"] == {"number": KNOWN, "account_id": "acme"}  # the auditor knows whose it was


@pytest.mark.usefixtures("timeline_table")
def test_the_admin_sees_the_whole_number_and_a_link_is_for_its_token_only(served, fake, tail):
    link = link_of(served, KNOWN, auth())
    page = get(served, link, auth()).body.decode()
    assert f'id="timeline-number">{KNOWN}<' in page and 'id="timeline-masked"' not in page
    reply = get(served, link, viewer())  # an admin's link, followed with the viewer token
    assert reply.status == 404 and "not valid" in reply.body.decode()
    no_whole_number(reply.body.decode())
    assert get(served, link).status == 303  # no token: to the sign-in form


@pytest.mark.usefixtures("timeline_table")
def test_a_link_is_refused_when_the_access_cannot_be_recorded(served, fake, tail):
    link = link_of(served, KNOWN, viewer())
    fake.published.clear()
    fake.refuse_publish = True
    reply = get(served, link, viewer())
    assert reply.status == 503
    assert KNOWN[-4:] not in reply.body.decode() and "Opted out" not in reply.body.decode()


@pytest.mark.usefixtures("timeline_table")
def test_a_made_up_or_expired_link_leads_nowhere(served, fake, tail):
    refs = dd.References(served.host.cluster_keys)
    expired = refs.make(grant(), KNOWN, "acme", now_s=time.time() - dd.REF_TTL_S - 1)
    fake.published.clear()
    for path in (f"/numbers/ref/{expired}", "/numbers/ref/" + "A" * 80, "/numbers/ref/%2B14155550177"):
        reply = get(served, path, viewer())
        assert reply.status == 404 and 'name="number"' in reply.body.decode()  # the page, with the search box
        no_whole_number(reply.body.decode())
    assert not audited(fake.published)
    fresh = refs.make(grant(), KNOWN, "acme")  # made by any worker of the cluster: it opens here
    assert get(served, f"/numbers/ref/{fresh}", viewer()).status == 200


def test_without_a_broker_the_panel_says_so(served, fake):
    data = get(served, "/dashboard/data", viewer()).json()
    assert data["recent"]["available"] is False and data["recent"]["events"] == []
    DashboardData.model_validate(data)
