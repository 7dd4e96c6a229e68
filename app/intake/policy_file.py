"""The keyword/reply configuration file (TOML), validated at start-up.

    [default]                  # every account and locale
    opt_out = ["halte"]        # added to the built-in words (nothing can remove them);
                               # ["td"] makes AWS's TD an opt-out (built in: alone, a person decides)
    phrases = ["stop bugging me"]
    help_text = "Acme alerts: reply STOP to stop."

    [locales.fr]               # adds to the built-in French pack, for French replies
    opt_out = ["pouce"]
    opt_out_confirmation = "Vous êtes désabonné. Répondez START pour vous réabonner."

    [accounts.acme]
    locale = "fr"              # locale of acme's replies that carry none
    opt_in_confirmation = "..."

Any error stops the worker with a message naming the file and line.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.domain.policy import DEFAULT_LOCALES, Policy, Profile

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=480)]


class PolicyFileError(ValueError):
    """The configuration file is invalid; the message names file and line."""


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opt_out: list[Word] = []
    opt_in: list[Word] = []
    help: list[Word] = []
    phrases: list[Word] = []
    opt_out_confirmation: Text | None = None
    opt_in_confirmation: Text | None = None
    help_text: Text | None = None

    def to_profile(self, locale: str | None = None) -> Profile:
        return Profile(
            tuple(self.opt_out), tuple(self.opt_in), tuple(self.help), tuple(self.phrases),
            self.opt_out_confirmation, self.opt_in_confirmation, self.help_text, locale,
        )


class _Account(_Profile):
    locale: Word | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: _Profile = Field(default_factory=_Profile)
    locales: dict[str, _Profile] = {}
    accounts: dict[str, _Account] = {}


def load_policy(path: Path | str | None, default_locales: str = DEFAULT_LOCALES) -> Policy:
    """The built-in defaults when ``path`` is None; else the file's policy. ``default_locales``
    (OPTOUT_DEFAULT_LOCALES) are the locales of replies that name none and whose account has none."""
    if path is None:
        try:
            return Policy(default_locales=default_locales)
        except ValueError as exc:
            raise PolicyFileError(f"OPTOUT_DEFAULT_LOCALES: {exc}") from None
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read the keyword configuration: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{path}: invalid TOML: {exc}") from None
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            problems.append(f"{path}, line {_locate(text, loc)}: {'.'.join(loc)}: {err['msg']}")
        raise PolicyFileError("\n".join(problems)) from None
    try:
        policy = Policy(
            default=parsed.default.to_profile(),
            locales={name.casefold(): p.to_profile() for name, p in parsed.locales.items()},
            accounts={name: p.to_profile(p.locale) for name, p in parsed.accounts.items()},
            default_locales=default_locales,
        )
    except ValueError as exc:
        raise PolicyFileError(f"OPTOUT_DEFAULT_LOCALES: {exc}") from None
    try:
        policy.validate()
    except ValueError as exc:
        word = str(exc).split("'")[1] if "'" in str(exc) else ""
        raise PolicyFileError(f"{path}, line {_line_of_word(text, word)}: {exc}") from None
    return policy


def _split_header(header: str) -> list[str]:
    return [part.strip().strip('"').strip("'") for part in header.strip("[] ").split(".")]


def _locate(text: str, loc: list[str]) -> int:
    """Best-effort line number (1-based) of the TOML entry at ``loc``."""
    best_line, best_len = 1, 0
    section: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            section = _split_header(line)
            path = section
        elif "=" in line:
            path = section + _split_header(line.split("=", 1)[0])
        else:
            continue
        common = 0
        for a, b in zip(path, loc):
            if a != b:
                break
            common += 1
        if common > best_len:
            best_line, best_len = number, common
    return best_line


def _line_of_word(text: str, word: str) -> int:
    from app.domain.keywords import keyword_key

    for number, line in enumerate(text.splitlines(), start=1):
        for token in line.replace(",", " ").replace("[", " ").replace("]", " ").split('"'):
            if word and keyword_key(token) == word:
                return number
    return 1
