"""Who may read numbers: tokens, the sign-in cookie, the forwarding proof, the audit record."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from app.runtime.web import access
from app.runtime.web.access import COOKIE, FORWARDED, Grant, Role
from app.settings import Settings

ADMIN, VIEWER = "admin-secret-of-16+", "viewer-secret-of-16+"


def settings(**kw) -> Settings:
    return Settings(**{"admin_token": ADMIN, "viewer_token": VIEWER, **kw})


def req(headers: dict | None = None, path: str = "/optouts/%2B14155550100", method: str = "GET") -> web.Request:
    return make_mocked_request(method, path, headers=headers or {})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def cookie(value: str) -> dict:
    return {"Cookie": f"{COOKIE}={value}"}


def test_tokens_give_their_roles():
    s = settings()
    assert access.grant(req(bearer(VIEWER)), s).role is Role.VIEWER
    assert access.grant(req(bearer(ADMIN)), s).role is Role.ADMIN
    assert access.grant(req(bearer(ADMIN)), s, Role.ADMIN).role is Role.ADMIN


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


def test_the_sign_in_cookie():
    s = settings()
    value = access.session_cookie(s, Role.VIEWER)
    found = access.grant(req(cookie(value)), s)
    assert found == Grant(Role.VIEWER, "cookie", access.token_id(VIEWER))
    role, expires, signature = value.split(".")
    assert int(expires) - time.time() == pytest.approx(s.session_max_age_s, abs=5)
    for forged in (f"admin.{expires}.{signature}", f"{role}.{int(expires) + 3600}.{signature}",
                   f"{role}.{expires}.{signature[:-1]}{'1' if signature.endswith('0') else '0'}", f"{role}.{expires}", "viewer..", f"root.{expires}.{signature}"):
        assert isinstance(access.grant(req(cookie(forged)), s), web.Response), forged
    expired = access.session_cookie(s, Role.VIEWER, now_s=time.time() - s.session_max_age_s - 1)
    assert access.grant(req(cookie(expired)), s).status == 401
    rotated = settings(viewer_token="new-viewer-secret")  # a new token signs every session out
    assert access.grant(req(cookie(value)), rotated).status == 401


def test_a_bearer_token_wins_over_a_cookie():
    s = settings()
    admin_cookie = access.session_cookie(s, Role.ADMIN)
    answer = access.grant(req({**bearer("wrong"), **cookie(admin_cookie)}), s)
    assert isinstance(answer, web.Response) and answer.status == 401


def test_forwarding_is_proved_by_a_worker_that_knows_the_token():
    s = settings()
    path = "/optouts/+14155550100"
    headers = access.forward_headers(s, Grant(Role.VIEWER, "cookie", "x"), "GET", path)
    assert headers["Authorization"] == f"Bearer {VIEWER}"
    assert access.grant(req(headers, path), s).forwarded
    assert not access.grant(req({**headers, FORWARDED: "1"}, path), s).forwarded  # a client's claim
    assert not access.grant(req(headers, "/optouts/+14155550199"), s).forwarded  # another path
    assert not access.grant(req(headers, path, method="POST"), s).forwarded


def test_the_audit_record_says_who_asked_what_and_how_many():
    found = Grant(Role.VIEWER, "bearer", access.token_id(VIEWER))
    record = access.audit_record("w1", req(path="/optouts/%2B14155550100?account=acme"), found, 1, 200)
    assert record["asked"] == "/optouts/%2B14155550100?account=acme"
    assert record["numbers_returned"] == 1 and record["role"] == "viewer" and record["worker"] == "w1"
    assert VIEWER not in str(record)
    long = access.audit_record("w1", req(path="/optouts?account=" + "a" * 5000), found, 0, 200)
    assert len(long["asked"]) == access.MAX_ASKED_CHARS
