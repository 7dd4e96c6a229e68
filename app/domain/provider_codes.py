"""Delivery-receipt error codes that are evidence of an opt-out (pure)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_OPT_OUT_CODES = (
    "twilio:21610,aws:DESTINATION_PHONE_NUMBER_OPTED_OUT,sns:DESTINATION_PHONE_NUMBER_OPTED_OUT,"
    "telnyx:40300,sinch:257,plivo:200"
)


@dataclass(frozen=True, slots=True)
class OptOutCodes:
    """``provider:code`` pairs (provider ``*`` matches any provider); case-insensitive."""

    pairs: frozenset[tuple[str, str]]

    @classmethod
    def parse(cls, spec: str) -> OptOutCodes:
        pairs = set()
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            provider, sep, code = item.rpartition(":")
            if not sep or not code.strip():
                raise ValueError(f"opt-out code {item!r} must look like provider:code (provider may be *)")
            pairs.add(((provider.strip() or "*").casefold(), code.strip().casefold()))
        return cls(frozenset(pairs))

    def matches(self, provider: str | None, code: object) -> str | None:
        """The rule (``provider:code``) that makes this receipt an opt-out, or None."""
        if code is None:
            return None
        code_text = str(code).strip().casefold()
        provider_text = (provider or "").strip().casefold()
        for candidate in (provider_text, "*"):
            if (candidate, code_text) in self.pairs:
                return f"{candidate}:{code_text}"
        return None
