"""The key space of a routed partition's state (app/stream/keys.py): the exact bytes of every
key (they are on disk and in the changelogs: a change here is a change of the stored layout),
no bookkeeping key taken for a consent key, and no key spelt anywhere else in app/."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from app.stream import keys

NUMBER = "+14155550101"
APP = Path(__file__).resolve().parents[4] / "app"

# every public name of app/stream/keys.py, and the bytes it gives (functions: on the arguments shown)
PINNED = {
    "GLOBAL_ACCOUNT": ((), "*"),
    "CONSENT_PREFIX": ((), b"+"),
    "BOOKKEEPING_PREFIX": ((), b"__"),
    "consent_key": ((NUMBER, "acme"), b"+14155550101|acme"),
    "replies_key": ((NUMBER, "acme"), b"+14155550101|acme|replies"),
    "history_key": ((NUMBER, "acme"), b"+14155550101|acme|history"),
    "suppressed_key": ((NUMBER, "acme"), b"+14155550101|acme|suppressed"),
    "slot_key": ((NUMBER, "acme", 7), b"history|+14155550101|acme|0007"),
    "config_key": (("cfg-0123456789abcdef",), b"keywords|cfg-0123456789abcdef"),
    "CONFIGS_KEY": ((), b"keywords|configs"),
    "REVIEW_INDEX_KEY": ((), b"reviews|pending"),
    "review_item_key": (("3.0123456789abcdef01",), b"review|3.0123456789abcdef01"),
    "ORIGINS_KEY": ((), b"__origins__"),
    "STATS_TOTALS_KEY": ((), b"__stats__"),
    "STATS_ROUTED_MARKS_KEY": ((), b"__stats__|routed"),
    "stats_minute_key": ((1439,), b"__stats__|m|1439"),
    "stats_hour_key": ((0,), b"__stats__|h|0"),
    "stats_day_key": ((31,), b"__stats__|d|31"),
    "CHANGELOG_NEXT_KEY": ((), b"__changelog_next__"),
    "is_bookkeeping": ((b"__origins__",), True),
    "key_account": (("acme",), "acme"),
    "parse_history_key": ((b"+14155550101|acme|history",), ("+14155550101", "acme")),
}


def test_every_key_format_has_its_exact_bytes() -> None:
    for name, (args, expected) in PINNED.items():
        value = getattr(keys, name)
        got = value(*args) if callable(value) else value
        assert got == expected, name


def test_every_name_of_the_key_space_is_pinned() -> None:
    public = {name for name in vars(keys) if not name.startswith("_") and name != "annotations"}
    assert public == set(PINNED)  # a new key (or one gone) is a change of the stored layout: pin it here


def test_keys_in_global_scope_other_texts_and_wide_slots() -> None:
    assert keys.consent_key(NUMBER, keys.GLOBAL_ACCOUNT) == b"+14155550101|*"
    assert keys.consent_key(NUMBER, "caf\u00e9") == b"+14155550101|caf\xc3\xa9"  # UTF-8
    assert keys.slot_key(NUMBER, "*", 0) == b"history|+14155550101|*|0000"
    assert keys.slot_key(NUMBER, "acme", 12345) == b"history|+14155550101|acme|12345"


numbers = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
accounts = st.text(min_size=1, max_size=40)


def per_partition_keys(number: str, account: str, slot: int) -> list[bytes]:
    return [keys.slot_key(number, account, slot), keys.config_key(f"cfg-{slot:016x}"), keys.CONFIGS_KEY,
            keys.REVIEW_INDEX_KEY, keys.review_item_key(f"{slot % 64}.{slot:018x}")]


def bookkeeping_keys(slot: int) -> list[bytes]:
    return [keys.ORIGINS_KEY, keys.STATS_TOTALS_KEY, keys.STATS_ROUTED_MARKS_KEY, keys.stats_minute_key(slot),
            keys.stats_hour_key(slot), keys.stats_day_key(slot), keys.CHANGELOG_NEXT_KEY]


@given(numbers, accounts, st.integers(0, 9999))
def test_no_bookkeeping_or_partition_key_can_be_a_consent_key(number: str, account: str, slot: int) -> None:
    consent = keys.consent_key(number, account)
    assert consent.startswith(keys.CONSENT_PREFIX) and not keys.is_bookkeeping(consent)
    per_number = [keys.replies_key(number, account), keys.history_key(number, account),
                  keys.suppressed_key(number, account)]
    assert not any(keys.is_bookkeeping(k) for k in per_number)  # written in key order, not last
    for key in per_partition_keys(number, account, slot):
        assert not key.startswith(keys.CONSENT_PREFIX) and not keys.is_bookkeeping(key)
    for key in bookkeeping_keys(slot):
        assert keys.is_bookkeeping(key) and not key.startswith(keys.CONSENT_PREFIX)
    assert keys.config_key(f"cfg-{slot:016x}") != keys.CONFIGS_KEY


@given(numbers, accounts, accounts)
def test_the_keys_kept_per_number_are_not_consent_keys(number: str, account: str, other: str) -> None:
    """Whatever the account ids (client input, ``|`` included), no key kept per number is the
    consent key of any account."""
    consent = {keys.consent_key(number, a) for a in (account, other, keys.GLOBAL_ACCOUNT,
                                                     f"{account}|history", f"{account}|replies",
                                                     f"{account}|suppressed")}
    for key in (keys.replies_key(number, account), keys.history_key(number, account),
                keys.suppressed_key(number, account)):
        assert key.startswith(keys.CONSENT_PREFIX) and key not in consent
    assert keys.parse_history_key(keys.history_key(number, account)) == (number, keys.key_account(account))
    assert keys.parse_history_key(keys.consent_key(number, account)) is None


def test_an_account_id_holding_a_bar_is_kept_as_its_digest() -> None:
    assert keys.key_account("a|history") == "sha256:" + __import__("hashlib").sha256(b"a|history").hexdigest()
    assert keys.consent_key(NUMBER, "a|history") != keys.history_key(NUMBER, "a")
    assert b"|" not in keys.consent_key(NUMBER, "x|y|z").partition(b"|")[2]


# spellings of state keys: only app/stream/keys.py may hold them (docstrings aside)
MARKERS = ("__stats__", "__origins__", "__changelog_next__", "reviews|", "review|", "history|", "|history",
           "|replies", "|suppressed", "keywords|")
ALLOWED = {
    "app/stream/keys.py": MARKERS,
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_no_module_but_the_keys_module_spells_a_state_key() -> None:
    spelt = []
    for path in sorted(APP.rglob("*.py")):
        name = path.relative_to(APP.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in docstrings:
                continue
            if isinstance(node.value, bytes):
                text = node.value.decode("latin-1")
            elif isinstance(node.value, str):
                text = node.value
            else:
                continue
            spelt += [f"{name}:{node.lineno}: {text!r}" for marker in MARKERS
                      if marker in text and marker not in ALLOWED.get(name, ())]
    assert spelt == []
