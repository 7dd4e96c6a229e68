"""No phone number in any log line (the masking itself: :mod:`app.domain.masking`).

:func:`install` makes every log record of every logger (ours, aiohttp, Faust, mode,
aiokafka) masked: a :class:`logging.LogRecord` factory whose records mask their
message (``getMessage``), their formatted exception (``exc_text``) and their stack
(``stack_info``). The template (``record.msg``) and the arguments stay as they are,
so filters keyed by the template (:mod:`app.runtime.quiet_logs`) still work.
"""

from __future__ import annotations

import logging

from app.domain.masking import mask


class MaskedLogRecord(logging.LogRecord):
    """A log record whose message, exception text and stack are masked."""

    def getMessage(self) -> str:
        try:
            return mask(super().getMessage())
        except Exception:  # a record that cannot be formatted: say so, without its arguments
            return mask(f"{self.msg!s} (log arguments could not be formatted)")

    @property
    def exc_text(self) -> str | None:  # type: ignore[override]
        return self.__dict__.get("exc_text")

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        self.__dict__["exc_text"] = None if value is None else mask(value)

    @property
    def stack_info(self) -> str | None:  # type: ignore[override]
        return self.__dict__.get("stack_info")

    @stack_info.setter
    def stack_info(self, value: str | None) -> None:
        self.__dict__["stack_info"] = None if value is None else mask(value)


def install() -> None:
    """Make every log record from now on a :class:`MaskedLogRecord` (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_numbers", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        if current is logging.LogRecord:
            return MaskedLogRecord(*args, **kwargs)
        record = current(*args, **kwargs)
        if not isinstance(record, MaskedLogRecord):  # another factory's record: mask what it says
            _wrap(record)
        return record

    factory.masks_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _wrap(record: logging.LogRecord) -> None:
    message = record.getMessage()
    record.msg, record.args = mask(message), None
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
