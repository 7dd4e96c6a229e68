"""Who may read numbers: tokens, the sign-in session, the worker's forwarding proof and the
signature of its answer, the audit record."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from app.runtime.cluster_keys import ClusterKeys
from app.runtime.web import access
from app.runtime.web.access import COOKIE, FORWARDED, Grant, Role
from app.settings import Settings

ADMIN, VIEWER = "admin-secret-of-16+", "viewer-secret-of-16+"
SECRET = "cluster-secret-of-16+"
URL = "http://127.0.0.1:6066"


def settings(**kw) -> Settings:
    return Settings(**{"admin_token": ADMIN, "viewer_token": VIEWER, "cluster_secret": SECRET, **kw})


def trust_for(s: Settings | None = None, keys: ClusterKeys | None = None, worker: str = "w1") -> access.Trust:
    s = s or settings()
    return access.Trust(s, keys or ClusterKeys(s), worker)


def app_of(trust: access.Trust) -> web.Application:
    app = web.Application()
    app[access.TRUST] = trust
    return app


_default = trust_for()


def req(headers: dict | None = None, path: str = "/optouts/%2B14155550100", method: str = "GET",
        trust: access.Trust | None = None) -> web.Request:
    return make_mocked_request(method, path, headers=headers or {}, app=app_of(trust or _default))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def cookie(value: str, name: str = COOKIE) -> dict:
    return {"Cookie": f"{name}={value}"}


def checked(request: web.Request, trust: access.Trust | None = None, body: bytes = b"",
            now_ms: int | None = None) -> web.Request:
    """``request`` as the middleware leaves it: its forwarding proof checked (once)."""
    request[access.PROVED] = access.verify_proof(trust or _default, request, body, now_ms)
    return request


def test_tokens_give_their_roles():
    s = settings()
    assert access.grant(req(bearer(VIEWER)), s).role is Role.VIEWER
    assert access.grant(req(bearer(ADMIN)), s).role is Role.ADMIN
    assert access.grant(req(bearer(ADMIN)), s, Role.ADMIN).role is Role.ADMIN
    assert not access.grant(req(bearer(ADMIN)), s).forwarded


@pytest.mark.parametrize("headers", [{}, bearer("wrong"), {"Authorization": "Basic eDp5"}, bearer(""),
                                     bearer(VIEWER + "x"), cookie("garbage")])
def test_without_valid_credentials_it_is_401(headers):
    answer = access.grant(req(headers), settings())
    assert isinstance(answer, web.Response) and answer.status == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_viewer_cannot_act():
    answer = access.grant(req(bearer(VIEWER)), settings(), Role.ADMIN)
    assert isinstance(answer, web.Response) and answer.status == 403


def test_nothing_is_open_without_a_configured_token():
    answer = access.grant(req(bearer("x")), settings(admin_token=None, viewer_token=None))
    assert isinstance(answer, web.Response) and answer.status == 403
    only_viewer = settings(admin_token=None)
    assert access.grant(req(bearer(VIEWER)), only_viewer).role is Role.VIEWER
    assert access.grant(req(bearer(VIEWER)), only_viewer, Role.ADMIN).status == 403
    assert access.grant(req(bearer(ADMIN)), settings(admin_token="  ")).status == 401  # blank: not configured


# ------------------------------------------------------------ sessions


def test_the_sign_in_cookie():
    s = settings()
    trust = trust_for(s)
    value = access.session_cookie(trust, Role.VIEWER)
    found = access.grant(req(cookie(value), trust=trust), s)
    assert (found.role, found.via, found.token_id, found.forwarded) == (Role.VIEWER, "cookie", access.token_id(VIEWER),
                                                                       False)
    role, expires, sid, signature = value.split(".")
    assert int(expires) - time.time() == pytest.approx(s.session_max_age_s, abs=5)
    assert len(sid) >= 16 and sid != access.session_cookie(trust, Role.VIEWER).split(".")[2]  # one id per sign-in
    assert VIEWER not in value and access.token_id(VIEWER) not in value
    flipped = f"{signature[:-1]}{'1' if signature.endswith('0') else '0'}"
    for forged in (f"admin.{expires}.{sid}.{signature}", f"{role}.{int(expires) + 3600}.{sid}.{signature}",
                   f"{role}.{expires}.{sid}.{flipped}", f"{role}.{expires}.{sid}", "viewer...",
                   f"root.{expires}.{sid}.{signature}", f"{role}.{expires}.{sid[:-1]}{'y' if sid.endswith('x') else 'x'}.{signature}"):
        assert isinstance(access.grant(req(cookie(forged), trust=trust), s), web.Response), forged
    expired = access.session_cookie(trust, Role.VIEWER, now_s=time.time() - s.session_max_age_s - 1)
    assert access.grant(req(cookie(expired), trust=trust), s).status == 401
    rotated = settings(viewer_token="new-viewer-secret")  # a new token signs every session of its role out
    assert access.grant(req(cookie(value), trust=trust_for(rotated, trust.keys)), rotated).status == 401
    other = settings(cluster_secret="another-cluster-secret")  # signed with the session key, not a token
    assert access.grant(req(cookie(value), trust=trust_for(other)), other).status == 401


def test_the_session_is_not_signed_with_a_token():
    """The old cookie, ``<role>.<expiry>.<HMAC keyed by the role's token>``, which a viewer
    could make for itself, is not a session."""
    import hashlib
    import hmac

    s = settings()
    expires = str(int(time.time()) + 3600)
    message = f"viewer.{expires}"
    old = f"{message}.{hmac.new(VIEWER.encode(), message.encode(), hashlib.sha256).hexdigest()}"
    assert access.grant(req(cookie(old)), s).status == 401


def test_signing_out_revokes_the_session_here():
    s = settings()
    trust = trust_for(s)
    value = access.session_cookie(trust, Role.ADMIN)
    assert access.grant(req(cookie(value), trust=trust), s).role is Role.ADMIN
    session = access.sign_out(req(cookie(value), trust=trust), trust)
    assert session is not None and session.role is Role.ADMIN
    assert access.grant(req(cookie(value), trust=trust), s).status == 401
    fresh = access.session_cookie(trust, Role.ADMIN)  # signing in again: a new session
    assert access.grant(req(cookie(fresh), trust=trust), s).role is Role.ADMIN


def test_the_revocation_set_is_bounded_and_fails_closed(monkeypatch):
    monkeypatch.setattr(access, "MAX_REVOKED", 3)
    s = settings()
    trust = trust_for(s)
    now = time.time()
    live = [access.read_session(trust, access.session_cookie(trust, Role.VIEWER, now)) for _ in range(5)]
    for session in live[:3]:
        trust.revoke(session.session_id, session.expires, now)
    assert not trust.revoked(live[4].session_id, live[4].expires)
    trust.revoke(live[3].session_id, live[3].expires, now)  # full: every session issued so far is signed out
    assert all(trust.revoked(x.session_id, x.expires) for x in live) and len(trust._revoked) == 1
    later = access.read_session(trust, access.session_cookie(trust, Role.VIEWER, now + 10))
    assert not trust.revoked(later.session_id, later.expires)
    trust2 = trust_for(s)  # expired entries are forgotten: such a cookie is refused as expired anyway
    trust2.revoke("a" * 16, int(now) + 5, now)
    trust2.revoke("b" * 16, int(now) + 100, now)
    assert set(trust2._revoked) == {"a" * 16, "b" * 16}
    trust2.revoke("c" * 16, int(now) + 100, now + 10)
    assert set(trust2._revoked) == {"b" * 16, "c" * 16}


def set_cookie(response: web.StreamResponse) -> str:
    return response.cookies.output(header="").strip()


def test_a_secure_cookie_is_secure_and_host_prefixed():
    s = settings(web_cookie_secure=True)
    trust = trust_for(s)
    response = web.Response()
    access.set_session(response, trust, Role.VIEWER)
    header = set_cookie(response)
    assert header.startswith("__Host-optout_session=")
    flags = {f.strip().split("=")[0].lower() for f in header.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= flags and "domain" not in flags
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert access.grant(req(cookie(value, access.SECURE_COOKIE), trust=trust), s).role is Role.VIEWER
    assert access.grant(req(cookie(value), trust=trust), s).status == 401  # the plain name is not read
    cleared = web.Response()
    access.clear_session(cleared, s)
    assert set_cookie(cleared).startswith("__Host-optout_session=") and "secure" in set_cookie(cleared).lower()
    plain = web.Response()
    access.set_session(plain, trust_for(), Role.VIEWER)
    assert set_cookie(plain).startswith(f"{COOKIE}=") and "secure" not in set_cookie(plain).lower()


def test_a_bearer_token_wins_over_a_cookie():
    s = settings()
    admin_cookie = access.session_cookie(_default, Role.ADMIN)
    answer = access.grant(req({**bearer("wrong"), **cookie(admin_cookie)}), s)
    assert isinstance(answer, web.Response) and answer.status == 401


def test_a_cookie_acts_only_from_this_origin_with_json():
    s = settings()
    value = access.session_cookie(_default, Role.ADMIN)
    json_type = {"Content-Type": "application/json"}
    here = {"Origin": "http://127.0.0.1:6066", "Host": "127.0.0.1:6066"}
    ok = access.grant(req({**cookie(value), **here, **json_type}, "/optouts", "POST"), s, Role.ADMIN)
    assert isinstance(ok, Grant) and ok.via == "cookie"
    for headers in ({**here, "Content-Type": "text/plain"}, {**here},
                    {"Origin": "http://evil.example", "Host": "127.0.0.1:6066", **json_type},
                    {"Referer": "http://127.0.0.1:6066/", "Host": "127.0.0.1:6066", **json_type},  # Origin it is
                    {"Origin": "null", "Host": "127.0.0.1:6066", **json_type}, {"Host": "127.0.0.1:6066", **json_type}):
        answer = access.grant(req({**cookie(value), **headers}, "/optouts", "POST"), s, Role.ADMIN)
        assert isinstance(answer, web.Response) and answer.status == 403, headers
    # reading needs neither; a bearer token acts without them (a browser does not send one by itself)
    assert isinstance(access.grant(req(cookie(value)), s), Grant)
    assert isinstance(access.grant(req({**bearer(ADMIN), "Content-Type": "text/plain"}, "/optouts", "POST"), s,
                                   Role.ADMIN), Grant)


# ------------------------------------------------------------ forwarded requests


def proof_for(trust: access.Trust, grant: Grant | None, method: str = "GET", path: str = "/optouts/+14155550100",
              query: dict | None = None, body: bytes = b"", url: str = URL, **kw) -> tuple[dict, str]:
    value, nonce = access.forward_proof(trust, grant, method, url, path, query or {}, body, **kw)
    return {FORWARDED: value}, nonce


def caller(role: Role = Role.VIEWER) -> Grant:
    return Grant(role, "cookie", access.token_id(VIEWER if role is Role.VIEWER else ADMIN))


def test_a_forwarded_request_says_what_its_caller_proved_and_the_owner_trusts_it():
    s = settings()
    owner = trust_for(s, worker="w2")
    sender = trust_for(s, worker="w1")  # another worker: the same secret
    headers, _ = proof_for(sender, caller(), query={"account": "acme"})
    assert "Authorization" not in headers and VIEWER not in str(headers)  # no client token travels
    request = checked(req(headers, "/optouts/%2B14155550100?account=acme", trust=owner), owner)
    found = access.grant(request, s)
    assert (found.role, found.via, found.token_id, found.forwarded_by) == (
        Role.VIEWER, "cookie", access.token_id(VIEWER), "w1")


def test_a_proof_is_for_one_request_once():
    s = settings()
    sender, owner = trust_for(s, worker="w1"), trust_for(s, worker="w2")
    path = "/optouts/%2B14155550100?account=acme"
    headers, _ = proof_for(sender, caller(), query={"account": "acme"})
    assert checked(req(headers, path, trust=owner), owner)[access.PROVED] is not None
    assert checked(req(headers, path, trust=owner), owner)[access.PROVED] is None  # replayed: refused
    for changed in (dict(path="/optouts/%2B14155550199?account=acme"), dict(path="/optouts/%2B14155550100"),
                    dict(path="/optouts/%2B14155550100?account=other"),
                    dict(path="/optouts/%2B14155550100?account=acme&mask=0"), dict(method="POST")):
        fresh, _ = proof_for(sender, caller(), query={"account": "acme"})
        r = req(fresh, changed.get("path", path), changed.get("method", "GET"), trust=owner)
        assert checked(r, owner)[access.PROVED] is None, changed
    posted, _ = proof_for(sender, caller(Role.ADMIN), "POST", "/reviews/3.x", body=b'{"decision": "dismiss"}')
    r = req(posted, "/reviews/3.x", "POST", trust=owner)
    assert checked(r, owner, b'{"decision": "opt_out"}')[access.PROVED] is None  # another body


def test_a_proof_is_valid_a_few_seconds_and_only_at_the_url_it_names():
    s = settings()
    sender, owner = trust_for(s, worker="w1"), trust_for(s, worker="w2")
    now = int(time.time() * 1000)
    for skew, valid in ((0, True), (access.MAX_CLOCK_DIFFERENCE_MS - 1000, True),
                        (-access.MAX_CLOCK_DIFFERENCE_MS + 1000, True),
                        (access.MAX_CLOCK_DIFFERENCE_MS + 1, False), (-access.MAX_CLOCK_DIFFERENCE_MS - 1, False)):
        headers, _ = proof_for(sender, caller(), now_ms=now + skew)
        assert (checked(req(headers, trust=owner), owner, now_ms=now)[access.PROVED] is not None) is valid, skew
    elsewhere, _ = proof_for(sender, caller(), url="http://rogue.example:6066")  # relayed from another URL
    assert checked(req(elsewhere, trust=owner), owner)[access.PROVED] is None
    owner.answers_at("http://rogue.example:6066")
    assert checked(req(elsewhere, trust=owner), owner)[access.PROVED] is not None


def test_a_client_cannot_make_a_proof():
    """Neither the old proof (an HMAC keyed by the caller's own token) nor one made with
    another secret, nor a bare header, is a worker's."""
    import hashlib
    import hmac

    s = settings()
    old = hmac.new(VIEWER.encode(), b"forwarded GET /optouts/+14155550100", hashlib.sha256).hexdigest()
    other = trust_for(settings(cluster_secret="not-the-cluster-secret"))
    forged, _ = proof_for(other, caller(Role.ADMIN))
    for headers in ({**bearer(VIEWER), FORWARDED: old}, {**bearer(VIEWER), FORWARDED: "1"}, {**bearer(VIEWER), **forged},
                    {**bearer(VIEWER), FORWARDED: "v1." + "A" * 5000 + ".00"}):
        request = checked(req(headers))
        assert request[access.PROVED] is None
        found = access.grant(request, s)
        assert found.via == "bearer" and not found.forwarded and found.role is Role.VIEWER  # the token, no more
    assert access.grant(checked(req(forged)), s).status == 401


def test_a_worker_asking_for_itself_reads_nothing_behind_a_token():
    s = settings()
    headers, _ = proof_for(_default, None, path="/optouts/+14155550100")
    request = checked(req(headers))
    assert isinstance(request[access.PROVED], access.Forwarded) and request[access.PROVED].role is None
    assert access.grant(request, s).status == 401


def test_without_a_shared_secret_only_this_worker_proves_itself():
    s = settings(cluster_secret=None)
    one, two = trust_for(s), trust_for(s)
    assert not one.shared
    headers, _ = proof_for(one, caller())
    assert checked(req(headers, trust=two), two)[access.PROVED] is None
    headers, _ = proof_for(one, caller())
    assert checked(req(headers, trust=one), one)[access.PROVED] is not None


def test_the_answer_is_signed_for_the_request_it_answers():
    s = settings()
    one, two = trust_for(s), trust_for(s)
    signature = access.answer_signature(two, "ab" * 16, 200, b'{"opted_out": true}')
    assert access.answer_proved(one, "ab" * 16, 200, b'{"opted_out": true}', signature)
    assert not access.answer_proved(one, "ab" * 16, 200, b'{"opted_out": false}', signature)
    assert not access.answer_proved(one, "cd" * 16, 200, b'{"opted_out": true}', signature)
    assert not access.answer_proved(one, "ab" * 16, 404, b'{"opted_out": true}', signature)
    assert not access.answer_proved(one, "ab" * 16, 200, b'{"opted_out": true}', None)
    assert not access.answer_proved(trust_for(settings(cluster_secret="not-the-cluster-secret")), "ab" * 16, 200,
                                    b'{"opted_out": true}', signature)


def test_the_nonces_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(access, "MAX_NONCES", 2)
    trust = trust_for()
    assert trust.first_use("a", 0) and trust.first_use("b", 1)
    assert not trust.first_use("a", 2)  # seen
    assert not trust.first_use("c", 3)  # full: refused, not forgotten early
    assert trust.first_use("c", access.NONCE_MEMORY_S + 0.5)  # "a" is forgotten once no proof of it is valid
    assert not trust.first_use("b", access.NONCE_MEMORY_S + 0.5)


# ------------------------------------------------------------ the audit


def test_the_audit_record_says_who_asked_what_and_how_many():
    found = Grant(Role.VIEWER, "bearer", access.token_id(VIEWER))
    record = access.audit_record("w1", req(path="/optouts/%2B14155550100?account=acme"), found, 1, 200)
    assert record["asked"] == "/optouts/%2B14155550100?account=acme"
    assert record["numbers_returned"] == 1 and record["role"] == "viewer" and record["worker"] == "w1"
    assert record["forwarded_by"] is None
    assert VIEWER not in str(record)
    long = access.audit_record("w1", req(path="/optouts?account=" + "a" * 5000), found, 0, 200)
    assert len(long["asked"]) == access.MAX_ASKED_CHARS
    forwarded = Grant(Role.VIEWER, "cookie", access.token_id(VIEWER), forwarded_by="w2")
    record = access.audit_record("w1", req(), forwarded, 1, 200)
    assert record["via"] == "cookie" and record["forwarded_by"] == "w2"
