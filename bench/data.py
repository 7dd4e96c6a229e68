"""The data every system gets: valid US numbers (checked with phonenumbers once, then
cached), the opted-out subset and the send requests."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import orjson
import phonenumbers
from phonenumbers import PhoneNumber
from tqdm import tqdm

# Area codes + exchanges 2xx-9xx, except 555 and the N11 service codes. phonenumbers
# holds these valid; every generated number is still checked (and the check cached).
AREA_CODES = (212, 312, 415, 617)
EXCHANGES = tuple(x for x in range(200, 1000) if x != 555 and x % 100 != 11)
GENERATOR = "v1"  # bump when the generator changes (invalidates the cache)

SENDER = "+18005550100"
BODIES = (
    "Your verification code is 482913. It expires in 10 minutes.",
    "Your order #A1934 has shipped and arrives Thursday. Reply STOP to opt out.",
    "Reminder: your appointment is tomorrow at 9:30 AM. Reply C to confirm.",
    "Flash sale: 20% off everything today only. Reply STOP to unsubscribe.",
)


def _candidate(rng: random.Random) -> int:
    area = AREA_CODES[rng.randrange(len(AREA_CODES))]
    exchange = EXCHANGES[rng.randrange(len(EXCHANGES))]
    return (area * 1000 + exchange) * 10000 + rng.randrange(10000)


def numbers(count: int, seed: int, cache_dir: Path) -> list[str]:
    """``count`` distinct valid E.164 numbers; a longer list's prefix is the shorter list."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached: list[str] = []
    for path in sorted(cache_dir.glob(f"numbers-{GENERATOR}-{seed}-*.txt")):
        lines = path.read_text().split()
        if len(lines) >= count and (not cached or len(lines) < len(cached)):
            cached = lines
    if cached:
        return cached[:count]
    rng = random.Random(seed)
    seen: set[int] = set()
    out: list[str] = []
    rejected = 0
    with tqdm(total=count, desc="numbers (phonenumbers check, cached)", unit="num", unit_scale=True,
              leave=False) as bar:
        while len(out) < count:
            national = _candidate(rng)
            if national in seen:
                continue
            seen.add(national)
            if not phonenumbers.is_valid_number(PhoneNumber(country_code=1, national_number=national)):
                rejected += 1
                continue
            out.append(f"+1{national}")
            bar.update()
    path = cache_dir / f"numbers-{GENERATOR}-{seed}-{count}.txt"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(out) + "\n")
    tmp.rename(path)
    if rejected:
        tqdm.write(f"bench: {rejected} generated numbers were not valid for phonenumbers and were skipped")
    return out


def check_parsed(sample: list[str]) -> None:
    """The project's own path: parse the E.164 text, then is_valid_number."""
    for number in sample:
        parsed = phonenumbers.parse(number, "US")
        if not phonenumbers.is_valid_number(parsed):
            raise SystemExit(f"bench: generated number {number} is not valid for phonenumbers")


@dataclass
class Dataset:
    pool: list[str]  # distinct recipients
    opted_out: set[str]
    optout_list: list[str]
    fresh: list[str]  # never sent to, never opted out (propagation figure)
    sends: list[tuple[bytes, bytes]]  # (key, value) of every send request, in produce order
    expected: dict[str, str]  # message_id -> "provider" | "suppressed"
    digest: str

    @property
    def provider_count(self) -> int:
        return sum(1 for v in self.expected.values() if v == "provider")

    @property
    def suppressed_count(self) -> int:
        return len(self.expected) - self.provider_count


def build(sends: int, distinct: int, optouts: int, seed: int, cache_dir: Path, extra: int = 1000) -> Dataset:
    nums = numbers(distinct + extra, seed, cache_dir)
    check_parsed(nums[:: max(1, len(nums) // 1000)])  # the project's path (parse, then validate) on a sample
    pool, fresh = nums[:distinct], nums[distinct:]
    optout_list = pool[:optouts]
    opted = set(optout_list)
    rng = random.Random(seed + 1)
    recipients = [pool[i % distinct] for i in range(sends)]  # every number about sends/distinct times
    rng.shuffle(recipients)
    out: list[tuple[bytes, bytes]] = []
    expected: dict[str, str] = {}
    digest = hashlib.sha256()
    for i, to in enumerate(recipients):
        mid = f"s{i:07d}"
        value = orjson.dumps(
            {"message_id": mid, "account_id": "default", "to": to, "from": SENDER, "body": BODIES[i % len(BODIES)]}
        )
        out.append((to.encode(), value))
        expected[mid] = "suppressed" if to in opted else "provider"
        digest.update(value)
    return Dataset(pool, opted, optout_list, fresh, out, expected, digest.hexdigest()[:16])


def changelog_value(message_id: str) -> bytes:
    """A table value as the worker writes it for a keyword STOP."""
    at = "2026-01-01T00:00:00+00:00"
    return orjson.dumps(
        {
            "opted_out": True,
            "changed_at": at,
            "message_id": message_id,
            "source": "keyword",
            "rule": "keyword",
            "matched": "stop",
            "last_event_at": at,
            "last_message_id": message_id,
            "recent_ids": [message_id],
        }
    )
