"""The one settings object. Every knob is an environment variable (docs/configuration.md)."""

from __future__ import annotations

import difflib
import hmac
import os
import socket
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.numbers import check_region
from app.domain.provider_codes import DEFAULT_OPT_OUT_CODES, OptOutCodes

MIN_SECRET_BYTES = 16  # tokens and the cluster secret


def _default_bootstrap() -> str:
    return f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"


KAFKA_FILES = ("kafka_sasl_password_file", "kafka_sasl_oauth_token_file", "kafka_ssl_ca_file",
               "kafka_ssl_cert_file", "kafka_ssl_key_file", "kafka_ssl_key_password_file")
KAFKA_SECRET_FILES = ("kafka_sasl_password_file", "kafka_sasl_oauth_token_file", "kafka_ssl_key_password_file")


def read_secret_file(path: Path) -> str:
    """A password or a token kept in a file: its text without the line break that ends it."""
    return path.read_text(encoding="utf-8").rstrip("\r\n")


def ssl_error_reason(exc: BaseException) -> str:
    """An OpenSSL error, in one line and without the C source location."""
    text = getattr(exc, "verify_message", None) or (exc.args[-1] if exc.args else "") or exc
    return " ".join(str(text).split(" (_ssl.c:")[0].split())


class Settings(BaseSettings):
    """Worker configuration. Env prefix ``OPTOUT_``, except the broker address."""

    model_config = SettingsConfigDict(env_prefix="OPTOUT_", extra="ignore", frozen=True, populate_by_name=True)

    # Broker and identity
    kafka_bootstrap_servers: str = Field(
        default_factory=_default_bootstrap,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "OPTOUT_KAFKA_BOOTSTRAP_SERVERS"),
        description="The broker(s), host:port[,host:port...]. When set, `make run` and the tests start no "
        "local broker and use this one.",
    )
    app_id: str = Field(default="sms-optout", description="The app id: the consumer group, the prefix of the "
                        "internal topics and of the transactional ids.")
    data_dir: Path = Field(default=Path(".data"), description="Where the RocksDB state is kept (a cache of the "
                           "table changelog: losing it costs a recovery, nothing else).")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="The worker's log level.")

    # Web: the address the server binds, and the URL other workers reach it at (containers
    # bind 0.0.0.0 and are reached by their service name); OPTOUT_WEB_HOST is the former
    # name of OPTOUT_WEB_BIND
    web_bind: str = Field(default="127.0.0.1",
                          validation_alias=AliasChoices("OPTOUT_WEB_BIND", "OPTOUT_WEB_HOST"),
                          description="The address the web server (API, dashboard, probes) binds; "
                          "OPTOUT_WEB_HOST is its former name.")
    web_port: int = Field(default=6066, ge=1, le=65535, description="The web server's port.")
    advertised_url: str | None = Field(default=None, validation_alias=AliasChoices("OPTOUT_WEB_URL"),
                                       pattern=r"^https?://[^\s/]+(:\d+)?/?$",
                                       description="The URL other workers forward to (default http://BIND:PORT).")

    # Topics (names are contracts; partition counts are explicit)
    inbound_topic: str = Field(default="sms.inbound", description="Replies of contacts (input).")
    outbound_topic: str = Field(default="sms.outbound", description="Send requests (input).")
    provider_topic: str = Field(default="sms.provider", description="Cleared sends and compliance replies "
                                "(output, for the provider gateway).")
    suppressed_topic: str = Field(default="sms.suppressed", description="Sends not sent, with the reason (output).")
    deadletter_topic: str = Field(default="sms.deadletter", description="Malformed records, with their original "
                                  "bytes (output).")
    status_topic: str = Field(default="sms.status", description="Providers' delivery receipts (input).")
    consent_topic: str = Field(default="sms.consent", description="The append-only consent log (output).")
    review_topic: str = Field(default="sms.review", description="Replies a person must judge (output).")
    audit_topic: str = Field(default="sms.audit", description="One record per HTTP answer that returned numbers.")
    consent_retention_ms: int = Field(default=-1, ge=-1, description="Retention of sms.consent when this project "
                                      "creates it; -1 = forever.")
    table_name: str = Field(default="optouts", description="The opt-out table's name, part of its changelog "
                            "topic's: sms-optout-optouts-changelog by default.")
    partitions: int = Field(default=8, ge=1, description="Partitions of the routed topic and the table changelog "
                            "(checked at start-up).")
    input_partitions: int = Field(default=8, ge=1, description="Partitions used when creating the input "
                                  "and output topics (any count works).")
    replication_factor: int = Field(default=1, ge=1, description="Replication factor of the topics this project "
                                    "creates.")

    # Domain
    default_region: str = Field(default="US", description="The region of numbers written without a country code.")
    scope: Literal["account", "global"] = Field(
        default="account", description="account: opt-outs are per account; global: one STOP silences every "
        "account (docs/consent.md).")
    keywords_file: Path | None = Field(default=None, description="A TOML file of keywords and reply texts added "
                                       "to the built-in packs, validated at start-up (docs/replies.md).")
    default_locales: str = Field(
        default="en,es", description="Comma-separated locales of replies that name none and whose account has "
        "none: their phrases and grammar apply, the first one's texts answer (English always applies; each must "
        "be a built-in pack, en es pt de it fr, or configured in the keywords file).")
    provider_optout_codes: str = Field(
        default=DEFAULT_OPT_OUT_CODES, description="Comma-separated provider:code pairs of delivery receipts "
        "that mean the number opted out (case-insensitive; *:CODE matches any provider).")
    admin_token: SecretStr | None = Field(default=None, description="Reads and acts (records operator "
                                          "opt-outs, decides reviews); unset: those answer 403.")
    viewer_token: SecretStr | None = Field(default=None, description="Reads what holds numbers (lookups, "
                                           "timelines, lists, exports, evidence, the dashboard). With neither "
                                           "token set, those answer 403.")
    # workers trust each other through this secret, which no client holds (forwarded requests,
    # and the keys of cursors and sessions derive from it): app.runtime.cluster_keys
    cluster_secret: SecretStr | None = Field(
        default=None, description="Held by the workers only, the same on each: forwarded requests between "
        "workers and the keys of cursors and sessions. Unset: a worker answers for its own partitions only.")
    web_cookie_secure: bool = Field(default=False, description="Served behind TLS: the session cookie is Secure "
                                    "and named with the __Host- prefix.")
    session_max_age_s: int = Field(default=8 * 3600, ge=60, le=7 * 86400,
                                   description="How long a dashboard sign-in cookie is valid.")
    listing_max_share: float = Field(default=0.25, gt=0, le=1, description="The share of the event loop's time one "
                                     "listing, CSV export or period evidence scan may take (it rests between reads).")
    # at most 900,000: every output (a dead letter, a suppression holding the request) then fits
    # under the broker's default 1 MiB record limit
    max_payload_bytes: int = Field(default=65536, ge=256, le=900_000,
                                   description="Larger records are dead-lettered (at most 900,000, so that every "
                                   "output fits under the broker's default 1 MiB record limit).")
    max_body_chars: int = Field(default=2000, ge=1, description="Longer send bodies are dead-lettered; longer "
                                "replies are classified on their beginning.")
    max_clock_skew_ms: int = Field(
        default=300_000, ge=0, le=86_400_000,
        description="A reply's client-supplied time may be this much later than its record's timestamp "
        "(or the worker's clock, if earlier); a later time is clamped to that bound.")

    # Review queue (replies a person must judge)
    review_business_days: int = Field(default=10, ge=0, le=10,
                                      description="Deadline of a review item (the FCC allows 10 business days).")
    review_expiry: Literal["opt_out", "keep"] = Field(
        default="opt_out", description="opt_out: an item not decided by its deadline is opted out (fail closed); "
        "keep: it stays pending.")
    review_scan_interval_ms: int = Field(default=60_000, ge=100, le=3_600_000,
                                         description="How often a worker looks for review items past their deadline.")
    review_max_pending: int = Field(default=5_000, ge=1, description="Pending review items per table partition; "
                                    "beyond, a reply that needs review is opted out at once (fail closed).")

    # Consent timeline per number and account (app/stream/timeline.py): beyond this many events the
    # earliest few and the latest are kept, with a count of those left out (a flood of STOPs)
    timeline_max_events: int = Field(default=200, ge=20, le=1000,
                                     description="Consent events kept per number and account for its timeline: "
                                     "beyond, the earliest 10 and the latest, the others counted.")

    # Kafka client tuning
    fetch_max_wait_ms: int = Field(default=10, ge=1, le=1500, description="The consumer's fetch wait, and the "
                                   "engine loop's poll timeout.")
    producer_linger_ms: int = Field(default=0, ge=0, le=1000, description="The producers' linger. The engine "
                                    "batches outputs itself (one record batch per topic-partition) and aiokafka "
                                    "holds a partition's next batch until the previous one is sent, so a linger "
                                    "stalls the pipeline.")

    # Kafka security (docs/configuration.md): every Kafka client of every command takes these
    # (app/runtime/kafka_security.py); checked together by _kafka_security
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="The protocol of every Kafka client of the worker and the commands.")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        default=None, description="The SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL.")
    kafka_sasl_username: str | None = Field(default=None, description="The SASL user (PLAIN, SCRAM).")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="The SASL user's password; or, "
                                                  "better, OPTOUT_KAFKA_SASL_PASSWORD_FILE (one or the other).")
    kafka_sasl_password_file: Path | None = Field(default=None, description="A file holding the SASL password "
                                                  "(its final line break is not part of it).")
    kafka_sasl_oauth_token_file: Path | None = Field(
        default=None, description="OAUTHBEARER: the file holding the token, read at every new connection "
        "(whoever issues the token keeps the file fresh).")
    kafka_ssl_ca_file: Path | None = Field(default=None, description="The CA certificates (PEM) the broker's "
                                           "certificate must chain to (default: the system's); the certificate must "
                                           "also name the host of KAFKA_BOOTSTRAP_SERVERS.")
    kafka_ssl_cert_file: Path | None = Field(default=None, description="Mutual TLS: the client's certificate "
                                             "(PEM).")
    kafka_ssl_key_file: Path | None = Field(default=None, description="Mutual TLS: the client certificate's "
                                            "key (PEM).")
    kafka_ssl_key_password_file: Path | None = Field(default=None, description="A file holding the key's "
                                                     "password, if the key is encrypted.")

    # Engine: commits, ordering, liveness, group membership
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        default="exactly_once", description="exactly_once: each input partition's outputs, changelog records and "
        "offsets are committed in one transaction, no duplicates, readers of the outputs must read "
        "read_committed; at_least_once: lower latency at low load, a crash may duplicate an output "
        "(docs/reliability.md).")
    decide_in_place: bool = Field(
        default=True, description="Exactly-once: a send already on its number's partition of the send topic "
        "(keyed by its E.164 number with Kafka's default partitioner, the send topic with OPTOUT_PARTITIONS "
        "partitions) is decided where it is read, without the routed topic's hop (docs/performance.md). "
        "Ignored under at_least_once: every send is routed.")
    commit_interval_ms: int = Field(default=100, ge=1, le=60_000,
                                    description="How often processed work is made durable "
                                    "(a checkpoint); under exactly-once also how long outputs wait to become visible.")
    progress_interval_ms: int = Field(default=10, ge=1, le=10_000,
                                      description="How often routers make the replies they routed durable, "
                                      "and a worker holding sends asks the broker how far the replies are routed (two "
                                      "requests): a held send's latency against broker requests.")
    max_held_sends: int = Field(default=20_000, ge=100, le=1_000_000,
                                description="Sends a worker keeps in memory waiting for their replies before "
                                "it stops reading its send partitions (it routes and decides in place no more); it "
                                "reads them again once half are decided. Bounds its memory while a reply partition "
                                "is not routed (roughly 3 KiB a held send); what was routed before it stopped, or "
                                "while its table partitions recovered, is still read.")
    stall_ms: int = Field(default=10_000, ge=100,
                          description="A partition with records waiting that does "
                          "not move, or a send held, this long: not ready (/health 503).")
    ready_grace_ms: int = Field(default=30_000, ge=0, le=600_000,
                                description="GET /readyz stays 200 this long through a rebalance or recovery.")
    standby_replicas: int = Field(default=0, ge=0, le=3,
                                  description="Other workers keeping a warm copy of "
                                  "each table partition (tailing its changelog).")
    group_instance_id: str | None = Field(default=None, description="Static group membership id, stable "
                                          "per worker: a restarted worker gets its partitions back without a "
                                          "rebalance.")
    session_timeout_ms: int = Field(default=10_000, ge=1000, le=300_000, description="A dead worker's "
                                    "partitions are taken over after this long.")
    transaction_timeout_ms: int = Field(default=15_000, ge=1000, le=900_000,
                                        description="Exactly-once: how long a dead worker's open "
                                        "transaction can hold back readers.")
    heartbeat_interval_ms: int = Field(default=1_000, ge=100, le=60_000, description="How often a worker tells "
                                       "the group it is alive.")
    clock_skew_ms: int = Field(default=0, ge=-3_600_000, le=3_600_000,
                               description="Fault injection only (make chaos): this worker's wall clock runs this "
                               "far ahead (negative: behind). No clock decides whether a STOP comes before a send.")

    # RocksDB (Faust defaults would reserve 2 GiB cache per partition)
    rocksdb_block_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=1024 * 1024, description="RocksDB's "
                                           "memory bound for the whole worker: one block cache shared by every "
                                           "partition, charged with the memtables (besides it: the index and "
                                           "filter blocks, ~2.5 bytes per stored key).")
    rocksdb_write_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, description="The memtables "
                                            "of all partitions together (charged to the block cache).")
    rocksdb_max_write_buffers: int = Field(default=2, ge=1, le=64, description="Memtables per partition; a "
                                           "partition's memtables hold at most this times the write buffer bytes.")

    @field_validator("provider_optout_codes")
    @classmethod
    def _codes_parse(cls, value: str) -> str:
        OptOutCodes.parse(value)
        return value

    @field_validator("admin_token", "viewer_token", "cluster_secret")
    @classmethod
    def _empty_token_is_none(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES:
            raise ValueError(f"OPTOUT_{info.field_name.upper()} must be at least {MIN_SECRET_BYTES} bytes "
                             "(for example: python -c 'import secrets; print(secrets.token_urlsafe(24))')")
        return value

    @model_validator(mode="after")
    def _secrets_differ(self) -> Settings:
        named = [(name, getattr(self, name)) for name in ("viewer_token", "admin_token", "cluster_secret")]
        given = [(name, value.get_secret_value()) for name, value in named if value is not None]
        for i, (first, a) in enumerate(given):
            for second, b in given[i + 1:]:
                if hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")):
                    raise ValueError(f"OPTOUT_{first.upper()} and OPTOUT_{second.upper()} must differ "
                                     "(equal, every holder of one holds the other's role)")
        return self

    @field_validator("default_region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        return check_region(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _kafka_upper(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip().upper().replace("_", "-") if info.field_name == "kafka_sasl_mechanism" \
            else value.strip().upper()
        if not value:
            return "PLAINTEXT" if info.field_name == "kafka_security_protocol" else None
        return value

    @field_validator("kafka_sasl_username", "kafka_sasl_password", *KAFKA_FILES, mode="before")
    @classmethod
    def _kafka_empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*KAFKA_FILES)
    @classmethod
    def _kafka_file_readable(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise ValueError(f"no such file: {value}")
        try:
            data = value.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror or exc}") from None
        if info.field_name in KAFKA_SECRET_FILES and not data.strip():
            raise ValueError(f"{value} is empty")
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        problem = _kafka_security_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def routed_topic(self) -> str:
        """Internal topic: replies and sends re-keyed by E.164 number."""
        return f"{self.app_id}-routed"

    @property
    def changelog_topic(self) -> str:
        return f"{self.app_id}-{self.table_name}-changelog"

    @property
    def web_host(self) -> str:
        """The former name of :attr:`web_bind`."""
        return self.web_bind

    @property
    def web_url(self) -> str:
        """Where other workers reach this one: OPTOUT_WEB_URL, or the bind address and port
        (a wildcard bind address is no address to reach: the host's name then)."""
        if self.advertised_url:
            return self.advertised_url.rstrip("/")
        host = self.web_bind
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        return f"http://{host}:{self.web_port}"


def _kafka_security_problem(s: Settings) -> str | None:
    """The first thing wrong with the Kafka security settings taken together, or None."""
    protocol = s.kafka_security_protocol
    uses = f"with OPTOUT_KAFKA_SECURITY_PROTOCOL={protocol}"
    sasl_given = [name for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password",
                                    "kafka_sasl_password_file", "kafka_sasl_oauth_token_file")
                  if getattr(s, name) is not None]
    ssl_given = [name for name in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file",
                                   "kafka_ssl_key_password_file") if getattr(s, name) is not None]
    if not protocol.startswith("SASL_") and sasl_given:
        return (f"OPTOUT_{sasl_given[0].upper()} is set, but OPTOUT_KAFKA_SECURITY_PROTOCOL={protocol} "
                "does not use SASL (SASL_SSL or SASL_PLAINTEXT does)")
    if protocol in ("PLAINTEXT", "SASL_PLAINTEXT") and ssl_given:
        return (f"OPTOUT_{ssl_given[0].upper()} is set, but OPTOUT_KAFKA_SECURITY_PROTOCOL={protocol} "
                "does not use TLS (SSL or SASL_SSL does)")
    mechanism = s.kafka_sasl_mechanism
    if protocol.startswith("SASL_"):
        if mechanism is None:
            return f"OPTOUT_KAFKA_SASL_MECHANISM is required {uses}: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
        with_mechanism = f"with OPTOUT_KAFKA_SASL_MECHANISM={mechanism}"
        if mechanism == "OAUTHBEARER":
            for name in ("kafka_sasl_username", "kafka_sasl_password", "kafka_sasl_password_file"):
                if getattr(s, name) is not None:
                    return f"OPTOUT_{name.upper()} is not used {with_mechanism} (the token is)"
            if s.kafka_sasl_oauth_token_file is None:
                return f"OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE is required {with_mechanism}"
        else:
            if s.kafka_sasl_oauth_token_file is not None:
                return f"OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE is not used {with_mechanism} (only with OAUTHBEARER)"
            if s.kafka_sasl_username is None:
                return f"OPTOUT_KAFKA_SASL_USERNAME is required {with_mechanism}"
            if s.kafka_sasl_password is None and s.kafka_sasl_password_file is None:
                return f"OPTOUT_KAFKA_SASL_PASSWORD or OPTOUT_KAFKA_SASL_PASSWORD_FILE is required {with_mechanism}"
            if s.kafka_sasl_password is not None and s.kafka_sasl_password_file is not None:
                return "OPTOUT_KAFKA_SASL_PASSWORD and OPTOUT_KAFKA_SASL_PASSWORD_FILE are both set: set one"
    if (s.kafka_ssl_cert_file is None) != (s.kafka_ssl_key_file is None):
        given, missing = (("CERT", "KEY") if s.kafka_ssl_key_file is None else ("KEY", "CERT"))
        return f"OPTOUT_KAFKA_SSL_{given}_FILE is set without OPTOUT_KAFKA_SSL_{missing}_FILE (mutual TLS needs both)"
    if s.kafka_ssl_key_password_file is not None and s.kafka_ssl_key_file is None:
        return "OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE is set without OPTOUT_KAFKA_SSL_KEY_FILE"
    if protocol in ("SSL", "SASL_SSL"):
        return _tls_files_problem(s)
    return None


def _tls_files_problem(s: Settings) -> str | None:
    """Whether the CA, certificate and key files load (the client's TLS context is made the same way)."""
    try:
        context = ssl.create_default_context(cafile=str(s.kafka_ssl_ca_file) if s.kafka_ssl_ca_file else None)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"OPTOUT_KAFKA_SSL_CA_FILE: no CA certificate in PEM in {s.kafka_ssl_ca_file} ({ssl_error_reason(exc)})"
    if s.kafka_ssl_cert_file is None or s.kafka_ssl_key_file is None:
        return None
    key_password = s.kafka_ssl_key_password_file
    if key_password is None and b"ENCRYPTED" in s.kafka_ssl_key_file.read_bytes()[:4096]:
        return "OPTOUT_KAFKA_SSL_KEY_FILE is encrypted: its password goes in OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE"
    try:  # never OpenSSL's own prompt for a password: an empty one, when none is given
        context.load_cert_chain(str(s.kafka_ssl_cert_file), str(s.kafka_ssl_key_file),
                                password=read_secret_file(key_password) if key_password else (lambda: b""))
    except (ssl.SSLError, OSError, ValueError) as exc:
        return ("OPTOUT_KAFKA_SSL_CERT_FILE and OPTOUT_KAFKA_SSL_KEY_FILE cannot be loaded together "
                f"({ssl_error_reason(exc)}): a PEM certificate, its PEM key"
                + (", and OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE the key's password" if key_password else ""))
    return None


# read by the project's tooling, not by a worker (a worker started by them must not refuse them)
TOOLING_VARIABLES = ("OPTOUT_UPDATE_SCREENSHOT",)


class SettingsError(ValueError):
    """Settings that cannot be used: one line per problem, each naming its variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def variable_names() -> dict[str, str]:
    """Every environment variable a setting reads -> its field."""
    names: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        names[f"OPTOUT_{field.upper()}"] = field
        alias = info.validation_alias
        for choice in getattr(alias, "choices", ()) if alias is not None else ():
            if isinstance(choice, str) and choice.isupper():
                names[choice] = field
    names.pop("OPTOUT_ADVERTISED_URL", None)  # read as OPTOUT_WEB_URL
    return names | {name: "" for name in TOOLING_VARIABLES}


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """``OPTOUT_*`` variables no setting reads (a misspelt one is silently ignored otherwise)."""
    known = variable_names()
    problems = []
    for name in sorted(environ):
        if name.startswith("OPTOUT_") and name not in known:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            problems.append(f"{name}: no such setting" + (f"; did you mean {close[0]}?" if close else ""))
    return problems


def explain(exc: ValidationError) -> list[str]:
    """One line per error, naming the variable, never the value (it may be a secret)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if field.startswith(("OPTOUT_", "KAFKA_")):  # read by an alias: the loc is the variable
            variable = field
        else:
            variable = {"advertised_url": "OPTOUT_WEB_URL", "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
                        "web_bind": "OPTOUT_WEB_BIND"}.get(field, f"OPTOUT_{field.upper()}" if field else "settings")
        message = error["msg"].removeprefix("Value error, ")
        if message.startswith("OPTOUT_"):
            lines.append(message)
        else:
            lines.append(f"{variable}: {message}")
    return lines


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """The settings of the environment, or :class:`SettingsError` saying every problem."""
    problems = unknown_variables(dict(os.environ if environ is None else environ))
    try:
        settings = Settings()
    except ValidationError as exc:
        problems += explain(exc)
        settings = None
    if problems or settings is None:
        raise SettingsError(problems)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
