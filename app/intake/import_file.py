"""Reading the opt-out lists other products export (pure: no Kafka).

``python -m app import-optouts`` reads a file with :func:`read_optouts`, which
finds the numbers in it (see :data:`FORMAT_HELP` for the columns each format
is read by), normalizes each with :func:`app.domain.numbers.parse_number`
(lenient, fail closed, as ``POST /optouts``) and returns an
:class:`ImportPlan`: the numbers to record, in file order, each once, and
every line that was not used, with its line number and why.

Rules that hold for every format:

* A plain file with one number per line is read by every format (a first line
  that is a column name, e.g. ``phone``, is a header).
* A bad line (empty, unparseable, fewer columns than the header, a CSV field
  over the csv module's limit, invalid JSON) is reported with its line number;
  it never stops the import. A file in which no line holds a number at all is
  refused as a whole (:class:`ImportFileError`).
* Bytes are decoded by their byte order mark (UTF-8, UTF-16, UTF-32), as UTF-16
  without one when NUL bytes alternate, else as UTF-8, else as Windows-1252; a
  gzip is expanded up to :data:`MAX_DECOMPRESSED_BYTES`.
* Whatever of the file a message quotes has its control characters escaped
  (:func:`printable`): no terminal escape reaches an operator's screen.
* When a file also holds opt-ins (a Twilio log with START, a status column
  that says subscribed), the newest event of a number decides, if every event
  of that number has a date; otherwise an opt-out anywhere wins (fail closed).
  A row is left out only when it says, explicitly, subscribed / opted in.
* The same number twice is recorded once (the first line); repeats are counted.

The message id of an imported opt-out is derived from (account, number, file
name) by :func:`import_message_id`, so importing the same file again is a
replay the worker recognizes (no state change, nothing logged).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

from app.domain.keywords import words
from app.domain.numbers import NumberStatus, parse_number

FORMATS = ("csv", "twilio", "aws", "activecampaign")

FORMAT_HELP = {
    "csv": (
        "a CSV (comma, semicolon, tab or | separated) with a header; the number is the first column named "
        "phone, phone number, number, mobile, mobile phone, mobile number, cell, cell phone, msisdn, e164, "
        "telephone or tel (any case; spaces, _ and - ignored). Every row is an opt-out."
    ),
    "twilio": (
        "(1) Consent Management API items, as CSV or JSON lines: contact_id, status (rows with status "
        "opt-in are opt-ins, every other row an opt-out), date_of_consent (optional). (2) Messaging logs: "
        "the Console's CSV download or BulkExport JSON lines (.gz read as is), columns From, To, Body, "
        "Direction, ErrorCode and a date (SentDate, date_sent, date_created; optional): an inbound message "
        "that is an opt-out (Twilio's STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, or a "
        "reply our classifier opts out) records its From; an outbound message refused with error 21610 "
        "records its To; an inbound START, UNSTOP or YES is an opt-in; other messages are not used."
    ),
    "aws": (
        "AWS End User Messaging SMS (pinpoint-sms-voice-v2) DescribeOptedOutNumbers: the CLI's JSON "
        "(OptedOutNumbers[].OptedOutNumber) or text output (OPTEDOUTNUMBERS lines), or a CSV with an "
        "OptedOutNumber column (other columns, e.g. EndUserOptedOut, are not needed); Amazon SNS "
        "ListPhoneNumbersOptedOut: JSON phoneNumbers[] or text PHONENUMBERS lines, or a CSV with a "
        "phoneNumber column. Pages of JSON may follow each other in one file. Every number is an opt-out."
    ),
    "activecampaign": (
        "a contact export (CSV): the number is the Phone column (else SMS Phone, Mobile, Mobile Phone, "
        "Phone Number); an SMS status column (SMS Status, SMS Subscription Status, SMS List Status, SMS "
        "Marketing Status, SMS Opt-in Status) leaves out the rows that say active, subscribed, opted in "
        "or unconfirmed, every other row is an opt-out. Without one every row is an opt-out: export the "
        "SMS list filtered to status Unsubscribed. An email Status column is not read."
    ),
}

PLAIN_HELP = "one number per line (any format; a first line naming a column, e.g. 'phone', is a header)"

# Twilio's default opt-out and opt-in keywords (whole message, case-insensitive)
TWILIO_OPT_OUT = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
TWILIO_OPT_IN = frozenset({"start", "unstop", "yes"})
TWILIO_REFUSED_CODE = "21610"  # "Attempt to send to unsubscribed recipient"

GENERIC_NUMBER_COLUMNS = ("phone", "phonenumber", "number", "mobile", "mobilephone", "mobilenumber", "cell",
                          "cellphone", "msisdn", "e164", "telephone", "tel")
AWS_NUMBER_COLUMNS = ("optedoutnumber", "phonenumber", "phone", "number")
AC_NUMBER_COLUMNS = ("phone", "smsphone", "mobile", "mobilephone", "phonenumber")
AC_STATUS_COLUMNS = ("smsstatus", "smssubscriptionstatus", "smsliststatus", "smsmarketingstatus",
                     "smsoptinstatus", "smsoptstatus")
SUBSCRIBED_VALUES = frozenset({"active", "subscribed", "optedin", "optin", "unconfirmed", "reoptin", "reoptedin"})
DATE_COLUMNS = ("dateofconsent", "sentdate", "datesent", "datecreated", "date", "optedouttimestamp", "timestamp")
HEADER_WORDS = frozenset(GENERIC_NUMBER_COLUMNS + AWS_NUMBER_COLUMNS + AC_NUMBER_COLUMNS + ("contactid",))

MAX_SHOWN = 80  # characters of a bad value shown in a report
MAX_FILE_NAME = 150  # characters of the file name in requested_by / reason

# How far a gzip may expand; it is read a chunk at a time and refused as soon as it passes the bound,
# never expanded whole first. The reader holds the whole text in memory (then an object per number: about
# 40 bytes of memory per byte of a one-number-per-line list), so the bound is on the text, not only on
# the ratio: 256 MiB is ~20 million numbers one per line or a million Twilio log rows, far above one
# account's opt-out list (1 million numbers: 13 MiB), while the bytearray and the str of a bomb stay under
# 1 GiB. Besides, beyond GZIP_RATIO_FLOOR, at most MAX_GZIP_RATIO times the gzip's own size: honest
# exports compress 3-20x, a bomb up to 1000x, so a small file cannot claim hundreds of MiB (and then
# the memory of millions of rows) that its size on disk does not show.
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_GZIP_RATIO = 100
GZIP_RATIO_FLOOR = 16 * 1024 * 1024
GUNZIP_CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as Python writes it (\\x1b, \\u202e):
    C0 and C1 controls (ESC, BEL, CSI, NUL, tab, newline), bidi overrides and other format characters,
    line and paragraph separators. Printable text, accented or not, is unchanged; idempotent."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if char in "\t\n\r":
        return repr(char)[1:-1]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class ImportFileError(ValueError):
    """The file cannot be read in this format at all (nothing is imported). The message is made
    printable: it may quote the file."""

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


def column_key(name: str) -> str:
    """'Phone Number', 'phone_number', 'PhoneNumber' -> 'phonenumber'."""
    return re.sub(r"[^0-9a-z]", "", name.strip().lstrip("\ufeff").casefold())


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    number: str  # E.164
    unverified: bool = False  # parses, but phonenumbers does not hold it a valid number


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    problem: str  # "empty", "no number", "unparseable", "wrong columns", "field too long", "invalid JSON"
    detail: str = ""  # made printable: it may quote the file

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", printable(self.detail))


@dataclass(frozen=True, slots=True)
class Event:
    """One row's statement about one number."""

    line: int
    raw: str
    opted_out: bool
    when: datetime | None = None


@dataclass
class ImportPlan:
    source_format: str
    layout: str = ""
    lines: int = 0
    entries: list[Entry] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    repeated: list[tuple[int, int]] = field(default_factory=list)  # (line, first line of the number)
    not_opt_outs: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    resubscribed: list[tuple[str, int, int]] = field(default_factory=list)  # (number, opt-out line, opt-in line)
    notes: list[str] = field(default_factory=list)
    read_seconds: float = 0.0

    @property
    def unparseable(self) -> list[BadLine]:
        return [b for b in self.bad if b.problem != "empty"]

    @property
    def empty_lines(self) -> list[int]:
        return [b.line for b in self.bad if b.problem == "empty"]

    def to_json(self) -> dict[str, Any]:
        return {
            "source_format": self.source_format,
            "layout": self.layout,
            "lines": self.lines,
            "numbers": len(self.entries),
            "unverified": [e.line for e in self.entries if e.unverified],
            "unparseable": [{"line": b.line, "problem": b.problem, "detail": b.detail} for b in self.unparseable],
            "empty_lines": self.empty_lines,
            "repeated": [{"line": line, "first_line": first} for line, first in self.repeated],
            "not_opt_outs": [{"line": line, "why": why} for line, why in self.not_opt_outs],
            "resubscribed": [{"number": n, "opt_out_line": o, "opt_in_line": i} for n, o, i in self.resubscribed],
            "notes": self.notes,
            "read_seconds": round(self.read_seconds, 3),
        }


# ---------------------------------------------------------------- identity of an imported opt-out


def import_name(path: str | Path) -> str:
    return Path(path).name[:MAX_FILE_NAME] or "stdin"


def import_requested_by(file_name: str) -> str:
    return f"import:{file_name}"


def import_reason(file_name: str) -> str:
    return f"imported from {file_name}"


def import_message_id(account_id: str, number: str, file_name: str) -> str:
    """Deterministic: the same number imported from the same file name for the same account is the
    same event (a replay); another file gives another event (logged as 'unchanged' if opted out)."""
    digest = hashlib.sha256(f"{account_id}\x1f{number}\x1f{file_name}".encode()).hexdigest()
    return f"import:{digest[:24]}"


# ---------------------------------------------------------------- reading


ReplyIntent = Callable[[str], str]  # a reply's body -> "opt_out" | "opt_in" | "review" | ...
Progress = Callable[[int, int], None]  # (numbers parsed, numbers in all)


_BOMS = (  # UTF-32 LE first: its mark begins with UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_SNIFF_BYTES = 8192  # bytes looked at for BOM-less UTF-16


def decode(data: bytes) -> str:
    """The text of a file's bytes (see :func:`decode_as`)."""
    return decode_as(data)[0]


def decode_as(data: bytes) -> tuple[str, str, str]:
    """(text, encoding, how it was chosen) of a file's bytes, gunzipped first if a gzip: by its byte order
    mark (UTF-8, UTF-16 or UTF-32, LE or BE); UTF-16 when NUL bytes alternate (a BOM-less export of
    mostly ASCII text); UTF-8; else Windows-1252, spreadsheets' default on Windows."""
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data)
    view = memoryview(data)
    for bom, codec, name in _BOMS:
        if view[:len(bom)] == bom:
            return str(view[len(bom):], codec, "replace"), name, "byte order mark"
    guess = _utf16_without_bom(view[:_SNIFF_BYTES])
    if guess is not None:
        codec, name = guess
        return str(view, codec, "replace"), name, "no byte order mark, recognised by its NUL bytes"
    try:
        return str(view, "utf-8"), "UTF-8", ""
    except UnicodeDecodeError:
        return str(view, "cp1252", "replace"), "Windows-1252", "not UTF-8"


def _utf16_without_bom(sample: memoryview) -> tuple[str, str] | None:
    """UTF-16 LE/BE when, in ``sample``, NUL bytes fill at least a quarter of one parity of positions
    (the high bytes of ASCII characters) and are eight times rarer in the other."""
    sample = sample[:len(sample) // 2 * 2]
    if not sample:
        return None
    pairs = len(sample) // 2
    even, odd = bytes(sample[0::2]).count(0), bytes(sample[1::2]).count(0)
    if odd * 4 >= pairs and odd > even * 8:
        return "utf-16-le", "UTF-16 LE"
    if even * 4 >= pairs and even > odd * 8:
        return "utf-16-be", "UTF-16 BE"
    return None


def _gunzip(data: bytes) -> bytearray:
    """A gzip's content, read a chunk at a time up to :data:`MAX_DECOMPRESSED_BYTES` and
    :data:`MAX_GZIP_RATIO` times its size (see there)."""
    by_ratio = max(GZIP_RATIO_FLOOR, len(data) * MAX_GZIP_RATIO)
    limit = min(MAX_DECOMPRESSED_BYTES, by_ratio)
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as stream:
            while chunk := stream.read(min(GUNZIP_CHUNK, limit + 1 - len(out))):
                if len(out) + len(chunk) > limit:
                    why = (f"more than {MAX_GZIP_RATIO} times its size: a gzip bomb?" if limit < MAX_DECOMPRESSED_BYTES
                           else "split the export into smaller files")
                    raise ImportFileError(f"the gzip of {len(data):,} bytes expands to more than "
                                          f"{limit / 2**20:,.0f} MiB: refused ({why})")
                out += chunk
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ImportFileError(f"the file starts as a gzip but cannot be decompressed: {exc or type(exc).__name__}"
                              ) from None
    return out


def read_optouts(data: bytes | str, source_format: str, region: str, *, reply_intent: ReplyIntent | None = None,
                 progress: Progress | None = None) -> ImportPlan:
    """Every opt-out in ``data`` (a file's bytes or text) read as ``source_format``."""
    if source_format not in FORMATS:
        raise ImportFileError(f"unknown source format {source_format!r}: one of {', '.join(FORMATS)}")
    started = time.monotonic()
    if isinstance(data, bytes):
        text, encoding, why = decode_as(data)
    else:
        text, encoding, why = data.lstrip("\ufeff"), "text", ""
    plan = ImportPlan(source_format, lines=text.count("\n") + (0 if not text or text.endswith("\n") else 1))
    if why:
        plan.notes.append(f"decoded as {encoding} ({why})")
    reader = _Reader(plan, region, reply_intent, progress)
    first = text.lstrip()[:1]
    if first in ("{", "["):
        reader.json_text(text)
    else:
        reader.delimited(text)
    reader.resolve()
    if not plan.entries and not plan.resubscribed and not plan.not_opt_outs and plan.unparseable:
        raise ImportFileError(_nothing_read(plan, encoding))
    plan.read_seconds = time.monotonic() - started
    return plan


def _nothing_read(plan: ImportPlan, encoding: str) -> str:
    """Why a file in which no line holds a number is refused (every number read ends up in entries,
    resubscribed or not_opt_outs; a row read but not an opt-out is in not_opt_outs)."""
    bad = plan.unparseable
    first = bad[0]
    lines = "the only line holds no" if len(bad) == 1 else f"none of the {len(bad):,} lines holds a"
    read_as = "" if encoding == "text" else f"read as {encoding}; "
    return (f"{lines} phone number ({read_as}line {first.line}: {first.problem}"
            + (f": {first.detail}" if first.detail else "") + "). Nothing is imported: is the file UTF-16, a "
            f"spreadsheet (.xlsx) or in another format, or is --source-format {plan.source_format} the wrong one? "
            "Save it as CSV or text; " + PLAIN_HELP)


class _Reader:
    def __init__(self, plan: ImportPlan, region: str, reply_intent: ReplyIntent | None,
                 progress: Progress | None) -> None:
        self.plan = plan
        self.format = plan.source_format
        self.region = region
        self.reply_intent = reply_intent
        self.progress = progress
        self.events: list[Event] = []

    # ------------------------------------------------------------ text files

    def delimited(self, text: str) -> None:
        lines = io.StringIO(text, newline="")
        head = _first_nonblank(text)
        if head is None:
            self.plan.notes.append("the file holds no lines")
            return
        if self.format == "aws" and head.split("\t", 1)[0].strip() in ("OPTEDOUTNUMBERS", "PHONENUMBERS"):
            self.plan.layout = "AWS CLI text output"
            return self._aws_text(lines)
        delimiter = _sniff(head)
        if delimiter is None:
            self.plan.layout = "plain list, one number per line"
            return self._plain(lines, header=column_key(head) in HEADER_WORDS)
        kind = f"CSV ({_DELIMITER_NAMES[delimiter]})"
        records = _records(csv.reader(lines, delimiter=delimiter))
        header: list[str] | None = None
        for start, row, problem in records:
            if row is None:
                raise ImportFileError(f"the header (line {start}) cannot be read: {problem}")
            if not any(cell.strip() for cell in row):
                self.plan.bad.append(BadLine(start, "empty"))
                continue
            header = row
            break
        if header is None:  # only empty records ('"",""')
            self.plan.layout = f"{kind}, no header"
            return None
        rows = self._rows(records, header)
        self._table([column_key(h) for h in header], header, rows, kind)

    def _rows(self, records: Iterator[tuple[int, list[str] | None, str]],
              header: list[str]) -> Iterator[tuple[int, dict[str, str] | None, str]]:
        keys = [column_key(h) for h in header]
        for start, row, problem in records:
            if row is None:
                self.plan.bad.append(BadLine(start, "field too long", problem))
                continue
            if not any(cell.strip() for cell in row):
                self.plan.bad.append(BadLine(start, "empty"))
                continue
            if len(row) < len(keys):
                yield start, None, f"{len(row)} of {len(keys)} columns"
                continue
            yield start, dict(zip(keys, row, strict=False)), ""

    def _plain(self, lines: io.StringIO, *, header: bool) -> None:
        seen_content = False
        for number, line in enumerate(lines, 1):
            value = line.strip()
            if not value:
                self.plan.bad.append(BadLine(number, "empty"))
                continue
            if not seen_content:
                seen_content = True
                if header:
                    continue
            self.events.append(Event(number, value, True))

    def _aws_text(self, lines: io.StringIO) -> None:
        for number, line in enumerate(lines, 1):
            fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
            kind = fields[0].upper()
            if not line.strip():
                self.plan.bad.append(BadLine(number, "empty"))
            elif kind == "PHONENUMBERS" and len(fields) > 1:
                self.events.append(Event(number, fields[1], True))
            elif kind == "OPTEDOUTNUMBERS":
                found = next((f for f in fields[1:] if re.fullmatch(r"\+?\d{2,19}", f)), None)
                if found is None:
                    self.plan.bad.append(BadLine(number, "wrong columns", "no number in an OPTEDOUTNUMBERS line"))
                else:
                    self.events.append(Event(number, found, True))
            else:
                self.plan.not_opt_outs.append((number, f"{printable(fields[0][:20])} line"))

    # ------------------------------------------------------------ tables (CSV, JSON lines)

    def _table(self, keys: list[str], header: list[str], rows: Iterator[tuple[int, dict[str, str] | None, str]],
               kind: str) -> None:
        read = self._row_reader(keys, header)
        self.plan.layout = f"{kind}, {read.describe}"
        for line, row, problem in rows:
            if row is None:
                self.plan.bad.append(BadLine(line, "wrong columns", problem))
                continue
            read(line, row)

    def _row_reader(self, keys: list[str], header: list[str]) -> _RowReader:
        present = set(keys)
        shown = printable(", ".join(h.strip() for h in header)[:200])

        def pick(candidates: tuple[str, ...]) -> str | None:
            return next((c for c in candidates if c in present), None)

        date = pick(DATE_COLUMNS)
        if self.format == "twilio":
            if "contactid" in present:
                return _Consent(self, "contactid", "status" if "status" in present else None, date)
            if {"from", "to", "body", "direction"} <= present:
                return _TwilioLog(self, date, "errorcode" if "errorcode" in present else None)
            raise ImportFileError(f"no Twilio columns in the header ({shown}): expected contact_id (Consent "
                                  "Management) or From, To, Body, Direction (messaging logs); " + PLAIN_HELP)
        if self.format == "aws":
            column = pick(AWS_NUMBER_COLUMNS)
            if column is None:
                raise ImportFileError(f"no AWS number column in the header ({shown}): expected OptedOutNumber "
                                      "or phoneNumber (CSV, JSON lines), OptedOutNumbers or phoneNumbers (the "
                                      "CLI's JSON); " + PLAIN_HELP)
            return _Consent(self, column, None, date)
        if self.format == "activecampaign":
            column = pick(AC_NUMBER_COLUMNS)
            if column is None:
                raise ImportFileError(f"no ActiveCampaign phone column in the header ({shown}): expected Phone "
                                      "(or SMS Phone, Mobile, Phone Number); " + PLAIN_HELP)
            status = pick(AC_STATUS_COLUMNS)
            if status is None:
                self.plan.notes.append("no SMS status column: every row with a phone is read as an opt-out")
            return _Consent(self, column, status, None)
        column = pick(GENERIC_NUMBER_COLUMNS)
        if column is None:
            raise ImportFileError(f"no phone column in the header ({shown}): expected one of phone, phone number, "
                                  "number, mobile, cell, msisdn, e164, telephone, tel; " + PLAIN_HELP)
        return _Consent(self, column, None, None)

    # ------------------------------------------------------------ JSON

    def json_text(self, text: str) -> None:
        decoder = json.JSONDecoder()
        position, documents = 0, []
        try:
            while position < len(text):
                while position < len(text) and text[position].isspace():
                    position += 1
                if position >= len(text):
                    break
                value, end = decoder.raw_decode(text, position)
                documents.append((position, value))
                position = end
        except ValueError:
            return self._json_lines(text)  # JSON lines with bad lines among them, or broken JSON
        listing = ("OptedOutNumbers", "phoneNumbers")
        if all(isinstance(v, dict) and not any(k in v for k in listing) for _, v in documents) and \
                _one_per_line(text, documents):
            return self._json_lines(text)
        self.plan.layout = "JSON"
        locator = _Locator(text)
        for start, document in documents:
            self._json_document(document, locator, text.count("\n", 0, start) + 1)

    def _json_document(self, document: Any, locator: _Locator, line: int) -> None:
        numbers: list[Any] = []
        if isinstance(document, dict) and isinstance(document.get("OptedOutNumbers"), list):
            numbers = [item.get("OptedOutNumber") if isinstance(item, dict) else item
                       for item in document["OptedOutNumbers"]]
        elif isinstance(document, dict) and isinstance(document.get("phoneNumbers"), list):
            numbers = document["phoneNumbers"]
        elif isinstance(document, list):
            for item in document:
                if isinstance(item, dict):
                    keys = {column_key(k): v for k, v in item.items()}
                    column = next((c for c in AWS_NUMBER_COLUMNS + ("contactid",) + GENERIC_NUMBER_COLUMNS
                                   if c in keys), None)
                    numbers.append(keys.get(column) if column else None)
                else:
                    numbers.append(item)
        else:
            raise ImportFileError("JSON without OptedOutNumbers or phoneNumbers (AWS CLI output) or a list of "
                                  "numbers; " + PLAIN_HELP)
        for value in numbers:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(int(value))
            if isinstance(value, str):
                line = locator.line_of(value, line)
                self.events.append(Event(line, value, True))
            else:
                self.plan.bad.append(BadLine(line, "unparseable", f"not a number: {json.dumps(value)[:MAX_SHOWN]}"))

    def _json_lines(self, text: str) -> None:
        self.plan.layout = "JSON lines"
        reader: _RowReader | None = None
        for number, line in enumerate(io.StringIO(text, newline=""), 1):
            if not line.strip():
                self.plan.bad.append(BadLine(number, "empty"))
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                self.plan.bad.append(BadLine(number, "invalid JSON", str(exc)[:MAX_SHOWN]))
                continue
            if not isinstance(item, dict):
                self.plan.bad.append(BadLine(number, "invalid JSON", "not an object"))
                continue
            row = {column_key(k): "" if v is None else str(v) for k, v in item.items()}
            if reader is None:
                reader = self._row_reader(list(row), list(item))
                self.plan.layout = f"JSON lines, {reader.describe}"
            reader(number, row)

    # ------------------------------------------------------------ events -> numbers

    def resolve(self) -> None:
        """Parse every number; per number the newest event decides when all are dated, else an
        opt-out anywhere (fail closed); the first opt-out line is where a number is recorded."""
        plan = self.plan
        by_number: dict[str, list[Event]] = {}
        parsed_of: dict[str, tuple[str, bool]] = {}
        total = len(self.events)
        for done, event in enumerate(self.events):
            if self.progress is not None and done % 2048 == 0:
                self.progress(done, total)
            parsed = parse_number(event.raw, self.region)
            if parsed.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
                if parsed.status is NumberStatus.MISSING:
                    plan.bad.append(BadLine(event.line, "no number", "the number column is empty"))
                else:
                    plan.bad.append(BadLine(event.line, "unparseable", f"{event.raw[:MAX_SHOWN]!r}: {parsed.error}"))
                continue
            assert parsed.e164 is not None
            parsed_of[parsed.e164] = (parsed.e164, parsed.status is NumberStatus.UNVERIFIED)
            by_number.setdefault(parsed.e164, []).append(event)
        for number, events in by_number.items():
            outs = [e for e in events if e.opted_out]
            ins = [e for e in events if not e.opted_out]
            if not outs:
                plan.not_opt_outs.extend((e.line, "opt-in / subscribed") for e in ins)
                continue
            if ins and all(e.when is not None for e in events):
                newest = max(events, key=lambda e: (e.when, e.opted_out))
                if not newest.opted_out:
                    plan.resubscribed.append((number, outs[0].line, newest.line))
                    continue
            first = min(outs, key=lambda e: e.line)
            plan.entries.append(Entry(first.line, number, parsed_of[number][1]))
            plan.repeated.extend((e.line, first.line) for e in sorted(outs, key=lambda e: e.line) if e is not first)
            plan.not_opt_outs.extend((e.line, "opt-in / subscribed, older than or undated beside an opt-out")
                                     for e in ins)
        plan.entries.sort(key=lambda e: e.line)
        plan.bad.sort(key=lambda b: b.line)
        plan.repeated.sort()
        plan.not_opt_outs.sort()
        if self.progress is not None:
            self.progress(total, total)


class _RowReader:
    describe = ""

    def __call__(self, line: int, row: dict[str, str]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _Consent(_RowReader):
    """A number column, optionally a status column (subscribed values are opt-ins) and a date."""

    def __init__(self, reader: _Reader, column: str, status: str | None, date: str | None) -> None:
        self.reader = reader
        self.column = column
        self.status = status
        self.date = date
        self.describe = f"number column '{column}'" + (f", status column '{status}'" if status else "") + \
            (f", date column '{date}'" if date else "")

    def __call__(self, line: int, row: dict[str, str]) -> None:
        raw = row.get(self.column, "").strip()
        opted_out = True
        if self.status is not None and column_key(row.get(self.status, "")) in SUBSCRIBED_VALUES:
            opted_out = False
        when = _date(row.get(self.date, "")) if self.date else None
        self.reader.events.append(Event(line, raw, opted_out, when))


class _TwilioLog(_RowReader):
    describe = "Twilio messaging log (From, To, Body, Direction)"

    def __init__(self, reader: _Reader, date: str | None, error_code: str | None) -> None:
        self.reader = reader
        self.date = date
        self.error_code = error_code

    def __call__(self, line: int, row: dict[str, str]) -> None:
        direction = row.get("direction", "").strip().casefold()
        when = _date(row.get(self.date, "")) if self.date else None
        events = self.reader.events
        if direction.startswith("in"):
            body = row.get("body", "")
            key = "".join(words(body))
            intent = self.reader.reply_intent(body) if self.reader.reply_intent else None
            if key in TWILIO_OPT_OUT or intent == "opt_out":
                events.append(Event(line, row.get("from", "").strip(), True, when))
            elif key in TWILIO_OPT_IN or intent == "opt_in":
                events.append(Event(line, row.get("from", "").strip(), False, when))
            elif intent == "review":
                self.reader.plan.not_opt_outs.append((line, "reply needs review (not imported)"))
            else:
                self.reader.plan.not_opt_outs.append((line, "inbound message, not an opt-out"))
        elif direction.startswith("out"):
            code = row.get(self.error_code, "").strip() if self.error_code else ""
            if code.removesuffix(".0") == TWILIO_REFUSED_CODE:
                events.append(Event(line, row.get("to", "").strip(), True, when))
            else:
                self.reader.plan.not_opt_outs.append((line, "outbound message, not refused with 21610"))
        else:
            self.reader.plan.bad.append(BadLine(line, "wrong columns", f"direction {direction[:20]!r}"))


# ---------------------------------------------------------------- helpers

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "|"}


def _first_nonblank(text: str) -> str | None:
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line.rstrip("\r\n")
    return None


def _records(reader: Any) -> Iterator[tuple[int, list[str] | None, str]]:
    """(first line, row, "") per CSV record; (first line, None, why) for a record the csv module refuses
    (a field over its limit): the rest of that line is skipped and reading goes on at the next line."""
    end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, end = end + 1, reader.line_num
            yield start, None, _csv_problem(exc)
            continue
        start, end = end + 1, reader.line_num
        yield start, row, ""


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"a field over {csv.field_size_limit():,} characters"
    return f"not CSV: {exc}"


def _sniff(line: str) -> str | None:
    """The delimiter of a header line: the one that splits it into the most fields (None: one field)."""
    best, fields = None, 1
    for delimiter in (",", "\t", ";", "|"):
        try:
            count = len(next(csv.reader([line], delimiter=delimiter), []))
        except csv.Error:  # a field over the csv module's limit: count roughly, the header is refused later
            count = line.count(delimiter) + 1
        if count > fields:
            best, fields = delimiter, count
    return best


def _one_per_line(text: str, documents: list[tuple[int, Any]]) -> bool:
    lines = {text.count("\n", 0, start) for start, _ in documents}
    return len(lines) == len(documents)


def _date(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", value):  # UNIX epoch seconds (AWS)
            return datetime.fromtimestamp(float(value), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        try:
            moment = parsedate_to_datetime(value)  # RFC 2822 (Twilio's API dates)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Locator:
    """Line numbers of the numbers found in a JSON document (searched in document order)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1

    def line_of(self, value: str, fallback: int) -> int:
        needle = json.dumps(value)
        found = self.text.find(needle, self.position)
        if found < 0:
            return max(fallback, self.line)
        self.line += self.text.count("\n", self.position, found)
        self.position = found + len(needle)
        return self.line


# ---------------------------------------------------------------- progress bar and summary


class ProgressBar:
    """A one-line progress bar on a terminal (redrawn at most every 0.1 s); on a pipe or file,
    a line at each tenth, so logs stay short."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._label = ""
        self._last_draw = 0.0
        self._last_tenth = -1
        self._started = time.monotonic()

    def start(self, label: str) -> None:
        self._label = label
        self._last_tenth = -1
        self._started = time.monotonic()

    def update(self, done: int, total: int) -> None:
        total = max(total, 1)
        fraction = min(done / total, 1.0)
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.1 and done < total:
                return
            self._last_draw = now
            filled = int(self.width * fraction)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r{self._label:<12} [{bar}] {fraction:6.1%} {done:,}/{total:,} "
                              f"{now - self._started:5.1f}s")
            self.stream.flush()
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(f"{self._label}: {fraction:.0%} ({done:,}/{total:,}, {now - self._started:.1f}s)\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _lines(values: list[int], limit: int = 30) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")


def render_summary(plan: ImportPlan, result: dict[str, Any] | None, *, limit: int = 50) -> str:
    """The human summary; ``result`` is what the runtime reports (None: dry run)."""
    out = [f"format: {plan.source_format} ({plan.layout or 'empty'}), {plan.lines:,} lines read and parsed in "
           f"{plan.read_seconds:.1f} s"]
    out += [f"note: {note}" for note in plan.notes]
    if result is None:
        out.append(f"dry run: {len(plan.entries):,} numbers would be imported; nothing was published")
    else:
        out.append(f"published: {result['sent']:,} opt-outs acknowledged by the broker"
                   + (f", {result['failed']:,} NOT acknowledged (run the import again)" if result["failed"] else "")
                   + f" in {result['publish_seconds']:.1f} s")
        outcomes = result.get("outcomes")
        if outcomes is None:
            out.append(f"outcomes: not seen ({result.get('why_no_outcomes', 'not awaited')}); the opt-outs are on "
                       "the broker and are applied when a worker reads them")
        else:
            out.append(f"imported (newly opted out): {outcomes['applied']:,}")
            already = outcomes["unchanged"] + outcomes["replayed"]
            out.append(f"already opted out: {already:,} ({outcomes['unchanged']:,} opted out before, logged as "
                       f"'unchanged'; {outcomes['replayed']:,} imported from this file before, a replay: "
                       "nothing logged)")
            if outcomes.get("stale"):
                out.append(f"older than the newest consent event of the number (logged as 'stale'): "
                           f"{outcomes['stale']:,}")
    unparseable = plan.unparseable
    out.append(f"unparseable: {len(unparseable):,}" + (" (line: problem)" if unparseable else ""))
    for bad in unparseable[:limit]:
        out.append(f"  line {bad.line}: {bad.problem}" + (f": {bad.detail}" if bad.detail else ""))
    if len(unparseable) > limit:
        out.append(f"  ... {len(unparseable) - limit:,} more (--json lists them all)")
    if plan.empty_lines:
        out.append(f"empty lines: {len(plan.empty_lines):,} (lines {_lines(plan.empty_lines)})")
    unverified = [e.line for e in plan.entries if e.unverified]
    if unverified:
        out.append(f"recorded although not valid numbers (fail closed): {len(unverified):,} "
                   f"(lines {_lines(unverified)})")
    if plan.repeated:
        out.append(f"repeated in the file (recorded once): {len(plan.repeated):,} "
                   f"(lines {_lines([line for line, _ in plan.repeated])})")
    if plan.not_opt_outs:
        out.append(f"rows that are not opt-outs: {len(plan.not_opt_outs):,} "
                   f"(lines {_lines([line for line, _ in plan.not_opt_outs])})")
    if plan.resubscribed:
        out.append(f"opted back in later in the file (not imported): {len(plan.resubscribed):,} "
                   f"(opt-in lines {_lines([i for _, _, i in plan.resubscribed])})")
    return "\n".join(printable(line) for line in out)
