"""Command line.

    python -m app worker                 run one worker
    python -m app create-topics          create the topics, check partition counts
    python -m app classify "TEXT" [--account ID] [--locale LOCALE]
                                         how a reply would be classified (JSON)
    python -m app import-optouts FILE --account ID --source-format csv|twilio|aws|activecampaign [--dry-run]
                                         record the opt-outs of another product's export
    python -m app check-config           the effective settings (secrets masked), or what is wrong
    python -m app reply --from NUMBER [--account ID] [--locale L] TEXT
                                         produce a contact's reply to sms.inbound; print its message id
    python -m app send --to NUMBER [--account ID] TEXT
                                         produce a send request to sms.outbound; print its message id
    python -m app tail [--follow] [--from-beginning] [--numbers] [TOPIC ...]
                                         the outcomes, one line each, as they are committed
    python -m app demo                   a short scripted story against the running worker (make demo)
    python -m app --version

Settings that cannot be used (a misspelt OPTOUT_* variable, a value out of range, an unknown
region, weak or equal secrets) are refused before anything starts: one line per problem,
naming the variable, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import textwrap
from pathlib import Path

from app.domain.numbers import check_region
from app.intake.import_file import (
    FORMAT_HELP,
    FORMATS,
    ImportFileError,
    ProgressBar,
    import_name,
    import_requested_by,
    printable,
    read_optouts,
    render_summary,
)
from app.intake.policy_file import PolicyFileError, load_policy
from app.runtime.topics import TopologyError, ensure_topics
from app.settings import SettingsError, get_settings


def _create_topics() -> int:
    settings = get_settings()
    try:
        asyncio.run(ensure_topics(settings))
    except TopologyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"topics ready on {settings.kafka_bootstrap_servers}")
    return 0


def _worker() -> int:
    from app.runtime import collector, malloc

    malloc.tune()  # first, before any thread starts (app/runtime/malloc.py)
    collector.tune()  # app/runtime/collector.py
    settings = get_settings()
    try:
        load_policy(settings.keywords_file, settings.default_locales)
    except PolicyFileError as exc:
        print(f"error: invalid keyword configuration (OPTOUT_KEYWORDS_FILE):\n{exc}", file=sys.stderr)
        return 2
    code = _create_topics()
    if code:
        return code
    from app.runtime.worker import run_worker

    run_worker(settings)  # exits the process
    return 0


def _classify(text: str, account: str, locale: str | None) -> int:
    settings = get_settings()
    try:
        policy = load_policy(settings.keywords_file, settings.default_locales)
    except PolicyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(policy.for_reply(account, locale).classifier.classify(text).to_json(), ensure_ascii=False))
    return 0


def _import_optouts(args: argparse.Namespace) -> int:
    if not args.account.strip():
        print("error: --account must not be empty", file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        region = check_region(args.region) if args.region else settings.default_region
    except ValueError as exc:
        print(f"error: --region: {exc}", file=sys.stderr)
        return 2
    try:
        policy = load_policy(settings.keywords_file, settings.default_locales)
    except PolicyFileError as exc:
        print(f"error: invalid keyword configuration (OPTOUT_KEYWORDS_FILE):\n{exc}", file=sys.stderr)
        return 2
    classifier = policy.for_reply(args.account).classifier
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    file_name = import_name("stdin" if args.file == "-" else args.file)
    bar = ProgressBar(sys.stderr)
    phase = ["reading"]
    bar.start("reading")

    def progress(name: str, done: int, total: int) -> None:
        if name != phase[0]:
            bar.finish()
            bar.start(name)
            phase[0] = name
        bar.update(done, total)

    try:
        plan = read_optouts(data, args.source_format, region,
                            reply_intent=lambda body: classifier.classify(body).intent.value,
                            progress=lambda done, total: progress("reading", done, total))
    except ImportFileError as exc:
        bar.finish()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = None
    if not args.dry_run:
        from app.runtime.importer import publish_import

        try:
            result = asyncio.run(publish_import(settings, plan, account_id=args.account, file_name=file_name,
                                                wait_seconds=args.wait, progress=progress))
        except TopologyError as exc:
            bar.finish()
            print(f"error: {exc}", file=sys.stderr)
            return 2
    bar.finish()
    if args.json:
        print(json.dumps({"file": file_name, "account_id": args.account,
                          "requested_by": import_requested_by(file_name), "region": region,
                          "dry_run": args.dry_run, **plan.to_json(), "result": result}))  # ASCII: no C1/bidi
    else:
        print(f"{printable(file_name)}: account {args.account!r}, requested_by {import_requested_by(file_name)!r}")
        print(render_summary(plan, result))
    return 1 if result is not None and result["failed"] else 0


IMPORT_EPILOG = """\
What is read, per --source-format (a plain file with one number per line works with every format):

{formats}

Numbers are normalized as POST /optouts does (lenient, with --region, default OPTOUT_DEFAULT_REGION) and
each is recorded once as an operator opt-out with requested_by 'import:<file name>'. Bad lines (empty,
unparseable, wrong columns, a CSV field over 131,072 characters) are reported with their line numbers
and never stop the import; a file in which no line holds a number is refused. A byte order mark decides
the encoding (UTF-8, UTF-16, UTF-32); BOM-less UTF-16 is recognised; else UTF-8, else Windows-1252. A
gzip may expand to 256 MiB and 100 times its size. Importing the same file (same name, same account)
again changes nothing and logs nothing new.

Exit status: 0 done (bad lines included), 1 some opt-outs were not acknowledged by the broker (run the
same import again: it is idempotent), 2 the file, the keyword configuration or the topics are unusable.
"""


def _check_config() -> int:
    settings = get_settings()
    shown = settings.model_dump(mode="json")
    for name, value in shown.items():
        if "token" in name or "secret" in name or "password" in name:
            shown[name] = None if value is None else "(set)"
    shown["web_url"] = settings.web_url
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


def _put(args: argparse.Namespace) -> int:
    from app.runtime.cli.put import put, reply_record, send_record

    settings = get_settings()
    if args.command == "reply":
        record = reply_record(settings, args.from_, args.text, account=args.account, locale=args.locale,
                              to=args.to, message_id=args.message_id)
    else:
        record = send_record(settings, args.to, args.text, account=args.account, message_id=args.message_id)
    if record.note:
        print(f"note: {record.note}", file=sys.stderr)
    sent = asyncio.run(put(settings, record))
    print(record.message_id)
    print(f"produced to {record.topic} (partition {sent.partition}, offset {sent.offset}); see what comes out: "
          f"python -m app tail --follow", file=sys.stderr)
    return 0


def _tail(args: argparse.Namespace) -> int:
    from app.runtime.cli.tail import check_numbers_allowed, resolve_topics, run_tail

    settings = get_settings()
    resolve_topics(settings, args.topics)  # an unknown name: said before connecting
    if args.numbers:
        check_numbers_allowed(settings, args.admin_token)
    return run_tail(settings, args.topics, follow=args.follow, from_beginning=args.from_beginning,
                    numbers=args.numbers)


def _demo(args: argparse.Namespace) -> int:
    from app.runtime.cli.demo import run_demo

    return run_demo(get_settings(), timeout_s=args.timeout)


def _client_command(args: argparse.Namespace) -> int:
    """reply, send, tail, demo: one line and exit 2 when the broker or the topics cannot be used."""
    from app.runtime import quiet_logs
    from app.runtime.cli.kafka_io import CommandError, quiet_client_logs

    logging.basicConfig(level=logging.WARNING, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    quiet_logs.install()
    quiet_client_logs()
    command = {"reply": _put, "send": _put, "tail": _tail, "demo": _demo}[args.command]
    try:
        return command(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


TAIL_EPILOG = """Each line: time, topic, number, account, what happened, message id; e.g.
  12:01:03 suppressed +*******0100 acme  opted_out  s-123

Numbers (and whatever else an upstream wrote: accounts, texts, ids) are masked. --numbers shows
them whole to the holder of the admin token: OPTOUT_ADMIN_TOKEN must be set in the environment (the
workers' admin token) and --admin-token, if given, must equal it.

TOPIC: provider, suppressed, consent, review, deadletter (the default: all five), inbound, outbound,
status, or a topic's name; the names come from the OPTOUT_*_TOPIC settings.

Without --from-beginning, tail starts at the end and follows (only what comes next); with it, it
prints what the topics hold and stops, unless --follow. Ctrl-C ends it.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sms-optout")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="SMS opt-out compliance stream processor")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="print the effective settings (secrets masked), or what is wrong")
    sub.add_parser("worker", help="run one worker (web server on OPTOUT_WEB_PORT)")
    sub.add_parser("create-topics", help="create the topics and check their partition counts")
    classify = sub.add_parser("classify", help="print how a reply would be classified, as JSON")
    classify.add_argument("text")
    classify.add_argument("--account", default="default")
    classify.add_argument("--locale", default=None)
    importer = sub.add_parser(
        "import-optouts", help="record every opt-out of another product's export (operator opt-outs)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Record every number of an exported opt-out list as an operator opt-out "
                    "(the same path as POST /optouts), idempotently.",
        epilog=IMPORT_EPILOG.format(formats="\n".join(
            textwrap.fill(f"{name}: {FORMAT_HELP[name]}", 100, initial_indent="  ", subsequent_indent="    ")
            for name in FORMATS)))
    importer.add_argument("file", metavar="FILE", help="the export ('-' reads standard input); .gz is read as is")
    importer.add_argument("--account", required=True, help="the account the opt-outs are recorded for")
    importer.add_argument("--source-format", required=True, choices=FORMATS, help="the product that exported it")
    importer.add_argument("--dry-run", action="store_true", help="read and report; publish nothing")
    importer.add_argument("--region", default=None,
                          help="country of numbers written without one (default OPTOUT_DEFAULT_REGION)")
    importer.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                          help="how long to wait for the worker to apply them and report the outcomes "
                               "(default 120; 0: do not wait)")
    importer.add_argument("--json", action="store_true", help="print the summary as JSON")
    reply = sub.add_parser("reply", help="produce a contact's reply (sms.inbound) and print its message id",
                           description="Produce a contact's reply to the inbound topic, as an upstream service "
                                       "would: checked against schemas/inbound.py, keyed by the E.164 number, "
                                       "acks=all. Prints its message id.")
    reply.add_argument("--from", dest="from_", required=True, metavar="NUMBER", help="the contact's number")
    reply.add_argument("--account", default="default", help="the account (default: default)")
    reply.add_argument("--locale", default=None, help="the reply's locale, e.g. es (selects the keywords)")
    reply.add_argument("--to", default=None, metavar="NUMBER", help="our number the contact replied to")
    reply.add_argument("--message-id", default=None, help="its id (default: a fresh cli-... id)")
    reply.add_argument("text", metavar="TEXT")
    send = sub.add_parser("send", help="produce a send request (sms.outbound) and print its message id",
                          description="Produce a send request to the outbound topic, as an upstream service "
                                      "would: checked against schemas/outbound.py, keyed by the E.164 number, "
                                      "acks=all. Prints its message id; see its outcome with tail.")
    send.add_argument("--to", required=True, metavar="NUMBER", help="the contact's number")
    send.add_argument("--account", default="default", help="the account (default: default)")
    send.add_argument("--message-id", default=None, help="its id (default: a fresh cli-... id)")
    send.add_argument("text", metavar="TEXT")
    tail = sub.add_parser("tail", help="print the outcomes, one line each, as they are committed",
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TAIL_EPILOG,
                          description="Print the records of the output topics as they are committed "
                                      "(read_committed):\nsends cleared for the provider, suppressions with their "
                                      "reasons, consent events, review items,\ndead letters.")
    tail.add_argument("topics", nargs="*", metavar="TOPIC", help="what to show (default: every outcome)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep waiting for new records")
    tail.add_argument("--from-beginning", action="store_true", help="start at the topics' beginnings")
    tail.add_argument("--numbers", action="store_true", help="show numbers whole (needs the admin token)")
    tail.add_argument("--admin-token", default=None,
                      help="the admin token, to check it is OPTOUT_ADMIN_TOKEN (a command line is visible to "
                           "other users: the environment is the better place)")
    demo = sub.add_parser("demo", help="play a short scripted story against the running worker",
                          description="STOP, a suppressed send, ALTO in Spanish, HELP, a reply for review, "
                                      "START and a delivered send, a provider's 21610 receipt: each record "
                                      "produced, its outcome awaited and shown with the number's timeline link. "
                                      "Exit 1 if an outcome does not come.")
    demo.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                      help="how long each step waits for its outcome (default 60)")
    args = parser.parse_args(argv)
    from app.runtime import log_mask

    log_mask.install()  # no phone number in any log line, from the first one on
    if args.command == "check-config":
        return _check_config()
    if args.command == "classify":
        return _classify(args.text, args.account, args.locale)
    if args.command in ("reply", "send", "tail", "demo"):
        return _client_command(args)
    if args.command == "import-optouts":
        logging.basicConfig(level=logging.WARNING, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
        return _import_optouts(args)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
    if args.command == "worker":
        return _worker()
    return _create_topics()


if __name__ == "__main__":
    sys.exit(main())
