"""The configuration reference (docs/configuration.md), generated from the settings object.

    .venv/bin/python scripts/settings_doc.py           # rewrite the block in docs/configuration.md
    .venv/bin/python scripts/settings_doc.py --check   # exit 1 when it is stale

Every field of :class:`app.settings.Settings` becomes one row: the environment variable(s) it
reads (aliases included), its default, what it accepts and its ``description``. Fields whose
value is a secret (the ones ``python -m app check-config`` masks) are marked. Only the text
between the two markers is generated; the page around it is written by hand.
``tests/unit/docs/test_configuration.py`` fails when the block differs from what this makes.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: the project's packages
    sys.path.insert(0, str(REPO))

from app.settings import Settings, variable_names  # noqa: E402

PAGE = REPO / "docs" / "configuration.md"
START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
COMMAND = ".venv/bin/python scripts/settings_doc.py"

# Sections, by the first field of each (fields keep the order of app/settings.py; a new field
# joins the section of the field before it).
SECTIONS = {
    "kafka_bootstrap_servers": "Broker and identity",
    "web_bind": "Web server",
    "inbound_topic": "Topics",
    "default_region": "Replies, consent and numbers",
    "admin_token": "Access",
    "max_payload_bytes": "Limits on records",
    "review_business_days": "Review queue",
    "timeline_max_events": "Timelines",
    "fetch_max_wait_ms": "Kafka client tuning",
    "kafka_security_protocol": "Kafka security",
    "processing_guarantee": "Engine: guarantee, checkpoints, liveness",
    "rocksdb_block_cache_bytes": "RocksDB",
}
# Defaults made by a function: what they come to, in words.
FACTORY_DEFAULTS = {"_default_bootstrap": "`127.0.0.1:$KAFKA_PORT` (`KAFKA_PORT`: 9092)"}


def is_secret(name: str, info: FieldInfo) -> bool:
    """A value never shown: ``check-config`` masks these (names with token, secret, password)."""
    return _base(info.annotation) is SecretStr or any(w in name for w in ("token", "secret", "password"))


def variables(name: str, info: FieldInfo) -> list[str]:
    """The environment variables the field reads, the main one first."""
    alias = info.validation_alias
    choices = [c for c in getattr(alias, "choices", ()) if isinstance(c, str)] if alias is not None else []
    names = choices or [f"OPTOUT_{name.upper()}"]
    known = variable_names()
    assert all(known.get(n) == name for n in names), (name, names)
    return names


def _base(annotation: object) -> object:
    """``X | None`` -> ``X``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def accepts(name: str, info: FieldInfo) -> str:
    """What the field accepts, from its type and constraints."""
    base = _base(info.annotation)
    if typing.get_origin(base) is typing.Literal:
        return " | ".join(f"`{v}`" for v in typing.get_args(base))
    kind = {int: "integer", float: "number", bool: "`true` | `false`", str: "text", Path: "path",
            SecretStr: "text"}.get(base, str(base))  # type: ignore[arg-type]
    if base is Path and is_secret(name, info):
        kind = "path of a file holding a secret"
    bounds = {}
    for meta in info.metadata:
        for key in ("ge", "gt", "le", "lt", "pattern"):
            if getattr(meta, key, None) is not None:
                bounds[key] = getattr(meta, key)
    if "pattern" in bounds:
        return f"{kind} matching `{bounds['pattern']}`"
    low = f"≥ {_number(bounds['ge'])}" if "ge" in bounds else f"> {_number(bounds['gt'])}" if "gt" in bounds else ""
    high = f"≤ {_number(bounds['le'])}" if "le" in bounds else f"< {_number(bounds['lt'])}" if "lt" in bounds else ""
    if "ge" in bounds and "le" in bounds:
        return f"{kind}, {_number(bounds['ge'])} to {_number(bounds['le'])}"
    return ", ".join(x for x in (kind, low, high) if x)


def _readable(name: str, value: int) -> str:
    """8388608 -> 8 MiB for sizes, 300000 -> 5 min for durations; '' when nothing reads better."""
    if name.endswith("_bytes") and value >= 1024 and value % 1024 == 0:
        return f"{value // 1048576} MiB" if value % 1048576 == 0 else f"{value // 1024} KiB"
    seconds = value / 1000 if name.endswith("_ms") else value if name.endswith("_s") else None
    if seconds is None or seconds < 1 or seconds != int(seconds):
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds % size == 0:
            return f"{int(seconds) // size} {unit}"
    return ""


def default(name: str, info: FieldInfo) -> str:
    if info.default_factory is not None:
        factory = getattr(info.default_factory, "__name__", "")
        return FACTORY_DEFAULTS.get(factory) or f"`{info.default_factory()}`"  # type: ignore[call-arg]
    value = info.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int):
        readable = _readable(name, value)
        return f"`{value}`" + (f" ({readable})" if readable else "") + (" (forever)" if value == -1 else "")
    text = str(value)
    if "," in text and len(text) > 40:  # a long list: one item a line
        return "<br>".join(f"`{item.strip()}`" for item in text.split(","))
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def block() -> str:
    """The generated block, markers included."""
    lines = [START, f"<!-- generated from app/settings.py by {COMMAND}; tests/unit/docs/test_configuration.py "
             "checks it -->"]
    for name, info in Settings.model_fields.items():
        if name in SECTIONS:
            lines += ["", f"### {SECTIONS[name]}", "",
                      "| variable | default | accepts | what it does |", "|---|---|---|---|"]
        names = variables(name, info)
        variable = "`" + names[0] + "`" + "".join(f"<br>(or `{alias}`)" for alias in names[1:])
        description = _cell(info.description or "")
        if is_secret(name, info):
            description = ("**Secret file**: its content is never logged" if _base(info.annotation) is Path
                           else "**Secret**: never logged") + "; `check-config` shows `(set)`. " + description
        lines.append(f"| {variable} | {default(name, info)} | {_cell(accepts(name, info))} | {description} |")
    lines.append(END)
    return "\n".join(lines)


def current(text: str) -> str:
    """The block as ``text`` holds it ('' without both markers)."""
    if text.count(START) != 1 or text.count(END) != 1:
        return ""
    return text[text.index(START):text.index(END) + len(END)]


def main(argv: list[str]) -> int:
    text = PAGE.read_text(encoding="utf-8")
    found, expected = current(text), block()
    if "--check" in argv:
        if found != expected:
            print(f"{PAGE.relative_to(REPO)} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    if not found:
        print(f"{PAGE.relative_to(REPO)} has no {START} ... {END} block", file=sys.stderr)
        return 2
    PAGE.write_text(text.replace(found, expected), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
