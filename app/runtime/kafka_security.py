"""How every Kafka client connects: the bootstrap servers, TLS and SASL, from the settings.

:func:`kafka_client_options` gives the keyword arguments every aiokafka client of the
worker and of the commands is built with (consumers, producers, admin clients): one place,
so no client connects otherwise. The TLS context is made once per set of files.

:func:`check_kafka_access` is the start-up check of ``create-topics``, ``worker`` and
``import-optouts`` (through :func:`app.runtime.topics.ensure_topics`): one connection to a
bootstrap server, TLS, SASL, one metadata request, within seconds. aiokafka logs a refused
password or an untrusted certificate and tries again (or says only "Unable to bootstrap");
this check says what is wrong, in one line naming the setting, and the command exits 2.

Secrets (the SASL password, the token, the key's password) are read from the settings or
their files when a client is built, and never logged: aiokafka logs the user name it
authenticated as, never the password.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from aiokafka.conn import AIOKafkaConnection, OAuthAuthenticator, collect_hosts
from aiokafka.errors import (
    AuthenticationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from app.settings import Settings, read_secret_file, ssl_error_reason

CHECK_TIMEOUT_S = 10.0  # per bootstrap server: connection, TLS, SASL and one metadata request


class KafkaAccessError(RuntimeError):
    """The broker cannot be used with these settings (credentials, certificates, protocol): one line."""


def bootstrap_servers(settings: Settings) -> list[str]:
    return [h.strip() for h in settings.kafka_bootstrap_servers.split(",") if h.strip()]


class FileTokenProvider(AbstractTokenProvider):
    """OAUTHBEARER: the token in ``path``, read afresh at every new connection (whoever issues
    the token keeps the file fresh: a sidecar, a Kubernetes projected token, a cron job)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def token(self) -> str:
        return read_secret_file(self.path).strip()

    def __repr__(self) -> str:
        return f"FileTokenProvider({str(self.path)!r})"


@lru_cache(maxsize=8)
def _ssl_context(ca_file: str | None, cert_file: str | None, key_file: str | None,
                 key_password_file: str | None) -> ssl.SSLContext:
    """A client TLS context: the broker's certificate must chain to ``ca_file`` (default: the
    system's CAs) and name the host connected to; ``cert_file``/``key_file`` for mutual TLS."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    if cert_file and key_file:
        password = read_secret_file(Path(key_password_file)) if key_password_file else None
        # never OpenSSL's own prompt for a password on the terminal: an empty one when none is given
        context.load_cert_chain(cert_file, key_file, password=password if password is not None else (lambda: b""))
    return context


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The settings' TLS context (one per set of files: made once, shared by every client)."""
    def name(path: Path | None) -> str | None:
        return str(path) if path is not None else None

    return _ssl_context(name(settings.kafka_ssl_ca_file), name(settings.kafka_ssl_cert_file),
                        name(settings.kafka_ssl_key_file), name(settings.kafka_ssl_key_password_file))


def _security_options(settings: Settings) -> dict[str, Any]:
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        _authenticated_once.install()
        mechanism = settings.kafka_sasl_mechanism
        options["sasl_mechanism"] = mechanism
        if mechanism == "OAUTHBEARER":
            assert settings.kafka_sasl_oauth_token_file is not None  # the settings say so
            options["sasl_oauth_token_provider"] = FileTokenProvider(settings.kafka_sasl_oauth_token_file)
        else:
            options["sasl_plain_username"] = settings.kafka_sasl_username
            options["sasl_plain_password"] = sasl_password(settings)
    return options


def sasl_password(settings: Settings) -> str | None:
    if settings.kafka_sasl_password is not None:
        return settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_sasl_password_file is not None:
        return read_secret_file(settings.kafka_sasl_password_file)
    return None


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments every aiokafka client is built with: ``bootstrap_servers`` and the
    security options (``security_protocol``, ``ssl_context``, ``sasl_*``)."""
    return {"bootstrap_servers": bootstrap_servers(settings), **_security_options(settings)}


class _AuthenticatedOnce(logging.Filter):
    """aiokafka logs "Authenticated as USER via MECHANISM" for every connection it opens (a
    worker opens ~100 at start, a producer per task among them): the first is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False
        self.installed = False

    def install(self) -> None:
        if not self.installed:
            logging.getLogger("aiokafka.conn").addFilter(self)
            self.installed = True

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not str(record.msg).startswith("Authenticated "):
            return True
        first, self.seen = not self.seen, True
        return first


_authenticated_once = _AuthenticatedOnce()


# ---------------------------------------------------------------- the start-up check


async def check_kafka_access(settings: Settings, *, timeout: float = CHECK_TIMEOUT_S) -> None:
    """Connect to the bootstrap servers as every client will (TLS, SASL) and ask for metadata.

    Returns once one answers. Raises :class:`KafkaAccessError` (one line) when a broker refuses
    the credentials or the certificates, speaks another protocol, or none answers within
    ``timeout``; returns as well when no server accepts a connection at all (the caller says
    that the broker cannot be reached, as it always has)."""
    try:
        options = _security_options(settings)
    except (ssl.SSLError, OSError, ValueError) as exc:  # files changed since the settings were read
        raise KafkaAccessError(f"the TLS files of OPTOUT_KAFKA_SSL_* cannot be used ({ssl_error_reason(exc)})"
                               ) from None
    hosts = collect_hosts(settings.kafka_bootstrap_servers, randomize=False)
    silent: list[str] = []
    for host, port, _ in hosts:
        where = f"{host}:{port}"
        try:
            await asyncio.wait_for(_one_metadata_request(host, port, options, timeout), timeout)
            return
        except asyncio.CancelledError:
            raise
        except (TimeoutError, asyncio.TimeoutError):
            silent.append(where)
        except Exception as exc:
            problem = explain_failure(settings, where, exc)
            if problem is not None:
                raise KafkaAccessError(problem) from None
    if silent and len(silent) == len(hosts):
        raise KafkaAccessError(
            f"no answer from Kafka at {', '.join(silent)} within {timeout:g} s "
            f"(OPTOUT_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}: is that the listener's protocol?)")


class _TokenCheckingAuthenticator(OAuthAuthenticator):
    """aiokafka's OAUTHBEARER, which takes no answer for a refusal: a broker refusing the token
    answers it with an error (RFC 7628: ``{"status":"invalid_token"}``) instead of nothing, then
    waits for the client to end the exchange; aiokafka calls that authenticated."""

    async def step(self, payload: bytes | None) -> Any:
        if self._token_sent and payload:
            raise SaslAuthenticationFailed(payload.decode("utf-8", "replace"))
        return await super().step(payload)


class _CheckedConnection(AIOKafkaConnection):
    """A connection as aiokafka makes them, which notices a refused OAUTHBEARER token."""

    def authenticator_oauth(self) -> OAuthAuthenticator:
        return _TokenCheckingAuthenticator(sasl_oauth_token_provider=self._sasl_oauth_token_provider)


async def _one_metadata_request(host: str, port: int, options: dict[str, Any], timeout: float) -> None:
    conn = _CheckedConnection(host, port, client_id="sms-optout-check", request_timeout_ms=int(timeout * 1000),
                              **options)
    await conn.connect()
    try:
        await conn.send(MetadataRequest([]))
    finally:
        conn.close()


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (aiokafka wraps the TLS error of a closed connection)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain and len(chain) < 10:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return chain


def _one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def explain_failure(settings: Settings, where: str, exc: BaseException) -> str | None:
    """One line saying what ``exc`` (a failed connection to ``where``) means for the settings;
    None when the server could not be reached at all (down, refused, no route)."""
    protocol = settings.kafka_security_protocol
    mechanism = settings.kafka_sasl_mechanism
    chain = _causes(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _untrusted(settings, where, cause)
    for cause in chain:
        if isinstance(cause, SaslAuthenticationFailed | AuthenticationFailedError):
            if mechanism == "OAUTHBEARER":
                return (f"Kafka at {where} refused the OAUTHBEARER token of OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE="
                        f"{settings.kafka_sasl_oauth_token_file} ({_one_line(cause.args[0] if cause.args else '')})")
            return (f"Kafka at {where} refused the SASL credentials of OPTOUT_KAFKA_SASL_USERNAME="
                    f"{settings.kafka_sasl_username} ({mechanism})")
        if isinstance(cause, UnsupportedSaslMechanismError):
            offered = str(cause).partition("Enabled mechanisms are: ")[2]
            return (f"Kafka at {where} does not offer OPTOUT_KAFKA_SASL_MECHANISM={mechanism} "
                    + (f"(it offers {_one_line(offered)})" if offered else "on that listener"))
        if isinstance(cause, IllegalSaslStateError):
            return (f"Kafka at {where} does not take SASL on that listener "
                    f"(OPTOUT_KAFKA_SECURITY_PROTOCOL={protocol}: is the listener SSL or PLAINTEXT?)")
        if isinstance(cause, ssl.SSLError):
            return _tls_failed(settings, where, cause)
    if any(isinstance(c, KafkaConnectionError | ConnectionResetError | EOFError | asyncio.IncompleteReadError)
           for c in chain) and not any(isinstance(c, ConnectionRefusedError) for c in chain):
        # connected, then closed by the broker before it answered: another protocol than ours
        hint = {"PLAINTEXT": "is the listener SSL, SASL_SSL or SASL_PLAINTEXT?",
                "SSL": "is the listener SASL_SSL (then OPTOUT_KAFKA_SASL_* are needed) or PLAINTEXT?",
                "SASL_PLAINTEXT": "is the listener SASL_SSL or PLAINTEXT?",
                "SASL_SSL": "is the listener SSL or PLAINTEXT, or does it want a client certificate?"}[protocol]
        return (f"Kafka at {where} closed the connection before answering "
                f"(OPTOUT_KAFKA_SECURITY_PROTOCOL={protocol}; {hint})")
    if isinstance(exc, KafkaError):
        return f"Kafka at {where} refused the connection: {_one_line(exc)}"
    return None  # not reached: down, refused, no such host


def _untrusted(settings: Settings, where: str, exc: ssl.SSLCertVerificationError) -> str:
    reason = ssl_error_reason(exc)
    code = getattr(exc, "verify_code", None)
    if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        return (f"the broker's certificate at {where} is not valid for {where.rpartition(':')[0]} ({reason}): "
                "connect to a name (KAFKA_BOOTSTRAP_SERVERS) the certificate holds")
    if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        return f"the broker's certificate at {where} has expired ({reason})"
    ca = settings.kafka_ssl_ca_file
    trusted_by = f"OPTOUT_KAFKA_SSL_CA_FILE={ca}" if ca else "the system's CAs (set OPTOUT_KAFKA_SSL_CA_FILE)"
    return f"the broker's certificate at {where} is not trusted by {trusted_by} ({reason})"


def _tls_failed(settings: Settings, where: str, exc: ssl.SSLError) -> str:
    reason = ssl_error_reason(exc)
    lowered = reason.lower()
    if "alert" in lowered and any(w in lowered for w in ("certificate", "unknown ca", "handshake failure")):
        if settings.kafka_ssl_cert_file is None:
            return (f"Kafka at {where} wants a client certificate ({reason}): set OPTOUT_KAFKA_SSL_CERT_FILE "
                    "and OPTOUT_KAFKA_SSL_KEY_FILE")
        return (f"Kafka at {where} refused the client certificate OPTOUT_KAFKA_SSL_CERT_FILE="
                f"{settings.kafka_ssl_cert_file} ({reason})")
    if any(w in lowered for w in ("wrong version number", "packet length too long", "record layer failure",
                                  "unexpected eof", "http request")):
        return (f"no TLS at {where} ({reason}): OPTOUT_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}, "
                "but the listener may be PLAINTEXT or SASL_PLAINTEXT")
    return f"TLS with Kafka at {where} failed ({reason})"
