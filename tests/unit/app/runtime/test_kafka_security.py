"""Kafka security: the settings and their checks, the one set of client options every client takes,
and the start-up check's one-line verdicts (against small local servers; the real broker is
tests/integration/test_secured.py's)."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

from app.__main__ import main
from app.runtime import kafka_security
from app.runtime.kafka_security import (
    FileTokenProvider,
    KafkaAccessError,
    check_kafka_access,
    explain_failure,
    kafka_client_options,
)
from app.runtime.topics import TopologyError, ensure_topics
from app.settings import Settings, SettingsError, get_settings, load_settings

APP = Path(__file__).resolve().parents[4] / "app"
PASSWORD = "the-sasl-password-0123"


@pytest.fixture
def env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("OPTOUT_") or n == "KAFKA_BOOTSTRAP_SERVERS"]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()  # the command line reads this test's environment

    def set_(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
    yield set_
    get_settings.cache_clear()


def problems(env_set, **values: str) -> list[str]:
    env_set(**values)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return caught.value.problems


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate it signed for 127.0.0.1, another CA, a client certificate with an
    encrypted key and its password file, a self-signed certificate for another name."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
            "-days", "2", "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "other-ca.key"),
            "-out", str(d / "other-ca.pem"), "-days", "2", "-subj", "/CN=another CA")
    for name, san in (("server", "IP:127.0.0.1"), ("elsewhere", "DNS:kafka.example.com")):
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"), "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    (d / "client-key.password").write_text("key-password-42\n")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc",
            "-pass", f"file:{d / 'client-key.password'}", "-out", str(d / "client.key"))
    openssl("req", "-new", "-key", str(d / "client.key"), "-passin", f"file:{d / 'client-key.password'}",
            "-subj", "/CN=client", "-out", str(d / "client.csr"))
    openssl("x509", "-req", "-in", str(d / "client.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-days", "2", "-out", str(d / "client.pem"))
    (d / "password").write_text(PASSWORD + "\n")
    (d / "wrong-key.password").write_text("not-it\n")
    (d / "empty").write_text("\n")
    return d


def key_file(pki: Path) -> str:
    return str(pki / "client.key")


def sasl_ssl(pki, **changes: str) -> dict[str, str]:
    return {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19093", "OPTOUT_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "OPTOUT_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "OPTOUT_KAFKA_SASL_USERNAME": "alice",
            "OPTOUT_KAFKA_SASL_PASSWORD_FILE": str(pki / "password"),
            "OPTOUT_KAFKA_SSL_CA_FILE": str(pki / "ca.pem"), **changes}


# ---------------------------------------------------------------- settings


def test_plaintext_is_the_default_and_adds_nothing(env):
    settings = load_settings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert kafka_client_options(settings) == {"bootstrap_servers": ["127.0.0.1:9092"],
                                              "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_a_password_file(env, pki):
    env(**sasl_ssl(pki))
    options = kafka_client_options(load_settings())
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": ["127.0.0.1:19093"], "security_protocol": "SASL_SSL",
                       "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "alice",
                       "sasl_plain_password": PASSWORD}  # the file's line break is not part of it
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_the_tls_context_is_made_once_for_every_client(env, pki):
    env(**sasl_ssl(pki))
    settings = load_settings()
    assert kafka_client_options(settings)["ssl_context"] is kafka_client_options(settings)["ssl_context"]
    assert kafka_client_options(load_settings())["ssl_context"] is kafka_client_options(settings)["ssl_context"]


def test_values_are_taken_in_any_case(env, pki):
    env(**sasl_ssl(pki, OPTOUT_KAFKA_SECURITY_PROTOCOL="sasl_ssl", OPTOUT_KAFKA_SASL_MECHANISM="scram_sha_256",
                   OPTOUT_KAFKA_SASL_PASSWORD_FILE="", OPTOUT_KAFKA_SASL_PASSWORD=PASSWORD))
    settings = load_settings()
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")
    assert kafka_client_options(settings)["sasl_plain_password"] == PASSWORD


def test_mutual_tls_with_an_encrypted_key(env, pki):
    env(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:19095", OPTOUT_KAFKA_SECURITY_PROTOCOL="SSL",
        OPTOUT_KAFKA_SSL_CA_FILE=str(pki / "ca.pem"), OPTOUT_KAFKA_SSL_CERT_FILE=str(pki / "client.pem"),
        OPTOUT_KAFKA_SSL_KEY_FILE=key_file(pki),
        OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE=str(pki / "client-key.password"))
    options = kafka_client_options(load_settings())
    assert set(options) == {"bootstrap_servers", "security_protocol", "ssl_context"}


async def test_oauthbearer_reads_its_token_file_at_every_connection(env, pki, tmp_path):
    token = tmp_path / "token"
    token.write_text("first.token.\n")
    env(**sasl_ssl(pki, OPTOUT_KAFKA_SASL_MECHANISM="OAUTHBEARER", OPTOUT_KAFKA_SASL_USERNAME="",
                   OPTOUT_KAFKA_SASL_PASSWORD_FILE="", OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE=str(token)))
    options = kafka_client_options(load_settings())
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, FileTokenProvider) and "sasl_plain_password" not in options
    assert await provider.token() == "first.token."
    token.write_text("second.token.\n")
    assert await provider.token() == "second.token."


@pytest.mark.parametrize(("changes", "expected"), [
    ({"OPTOUT_KAFKA_SASL_MECHANISM": ""},
     "OPTOUT_KAFKA_SASL_MECHANISM is required with OPTOUT_KAFKA_SECURITY_PROTOCOL=SASL_SSL: PLAIN, SCRAM-SHA-256, "
     "SCRAM-SHA-512 or OAUTHBEARER"),
    ({"OPTOUT_KAFKA_SASL_USERNAME": ""},
     "OPTOUT_KAFKA_SASL_USERNAME is required with OPTOUT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"),
    ({"OPTOUT_KAFKA_SASL_PASSWORD_FILE": ""},
     "OPTOUT_KAFKA_SASL_PASSWORD or OPTOUT_KAFKA_SASL_PASSWORD_FILE is required with "
     "OPTOUT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"),
    ({"OPTOUT_KAFKA_SASL_PASSWORD": PASSWORD},
     "OPTOUT_KAFKA_SASL_PASSWORD and OPTOUT_KAFKA_SASL_PASSWORD_FILE are both set: set one"),
    ({"OPTOUT_KAFKA_SECURITY_PROTOCOL": "SSL"},
     "OPTOUT_KAFKA_SASL_MECHANISM is set, but OPTOUT_KAFKA_SECURITY_PROTOCOL=SSL does not use SASL "
     "(SASL_SSL or SASL_PLAINTEXT does)"),
    ({"OPTOUT_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
     "OPTOUT_KAFKA_SSL_CA_FILE is set, but OPTOUT_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS "
     "(SSL or SASL_SSL does)"),
    ({"OPTOUT_KAFKA_SASL_MECHANISM": "OAUTHBEARER"},
     "OPTOUT_KAFKA_SASL_USERNAME is not used with OPTOUT_KAFKA_SASL_MECHANISM=OAUTHBEARER (the token is)"),
    ({"OPTOUT_KAFKA_SASL_MECHANISM": "GSSAPI"},
     "OPTOUT_KAFKA_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512' or 'OAUTHBEARER'"),
    ({"OPTOUT_KAFKA_SECURITY_PROTOCOL": "TLS"},
     "OPTOUT_KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or 'SASL_SSL'"),
    ({"OPTOUT_KAFKA_SSL_CA_FILE": "/no/such/ca.pem"}, "OPTOUT_KAFKA_SSL_CA_FILE: no such file: /no/such/ca.pem"),
])
def test_settings_that_cannot_work_are_one_line_naming_the_variable(env, pki, changes, expected):
    assert problems(env, **sasl_ssl(pki, **changes)) == [expected]


def test_files_must_exist_hold_something_and_load(env, pki):
    empty = str(pki / "empty")
    assert problems(env, **sasl_ssl(pki, OPTOUT_KAFKA_SASL_PASSWORD_FILE=empty)) == [
        f"OPTOUT_KAFKA_SASL_PASSWORD_FILE: {empty} is empty"]
    (line,) = problems(env, **sasl_ssl(pki, OPTOUT_KAFKA_SSL_CA_FILE=str(pki / "password")))
    assert line.startswith(f"OPTOUT_KAFKA_SSL_CA_FILE: no CA certificate in PEM in {pki / 'password'} (")
    assert PASSWORD not in line
    assert problems(env, **sasl_ssl(pki, OPTOUT_KAFKA_SSL_CERT_FILE=str(pki / "client.pem"))) == [
        "OPTOUT_KAFKA_SSL_CERT_FILE is set without OPTOUT_KAFKA_SSL_KEY_FILE (mutual TLS needs both)"]
    assert problems(env, **sasl_ssl(pki, OPTOUT_KAFKA_SSL_CERT_FILE=str(pki / "client.pem"),
                                    OPTOUT_KAFKA_SSL_KEY_FILE=key_file(pki))) == [
        "OPTOUT_KAFKA_SSL_KEY_FILE is encrypted: its password goes in OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE"]
    (line,) = problems(env, **sasl_ssl(pki, OPTOUT_KAFKA_SSL_CERT_FILE=str(pki / "client.pem"),
                                       OPTOUT_KAFKA_SSL_KEY_FILE=key_file(pki),
                                       OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE=str(pki / "wrong-key.password")))
    assert line.startswith("OPTOUT_KAFKA_SSL_CERT_FILE and OPTOUT_KAFKA_SSL_KEY_FILE cannot be loaded together")


def test_the_password_is_never_shown(env, pki, capsys):
    env(**sasl_ssl(pki, OPTOUT_KAFKA_SASL_PASSWORD_FILE="", OPTOUT_KAFKA_SASL_PASSWORD=PASSWORD))
    settings = load_settings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump(mode="json"))
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out and '"kafka_sasl_username": "alice"' in out
    lines = problems(env, OPTOUT_KAFKA_SASL_USERNAME="")
    assert all(PASSWORD not in line for line in lines)


def test_every_kafka_client_of_the_app_takes_the_common_options():
    """Every aiokafka client built in app/ is given ``**kafka_client_options(...)``: none connects otherwise."""
    clients = {"AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient", "AIOKafkaClient"}
    built, offenders = [], []
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in clients:
                where = f"{path.relative_to(APP)}:{node.lineno}"
                built.append(where)
                spread = [k.value for k in node.keywords if k.arg is None]
                if not any(isinstance(v, ast.Call) and getattr(v.func, "id", None) == "kafka_client_options"
                           for v in spread) or any(k.arg == "bootstrap_servers" for k in node.keywords):
                    offenders.append(where)
    assert len(built) >= 9, built  # the group consumer, producers, admin clients, readers, the consent tail
    assert not offenders, offenders


# ---------------------------------------------------------------- the start-up check


class Server:
    """A local TCP server answering each connection with ``handle`` (TLS if ``context``)."""

    def __init__(self, handle, context: ssl.SSLContext | None = None) -> None:
        self.handle, self.context = handle, context
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> str:
        async def on_connection(reader, writer):
            with contextlib.suppress(Exception):
                await self.handle(reader, writer)
            with contextlib.suppress(Exception):
                writer.close()

        self.server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=self.context)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        assert self.server is not None
        self.server.close()


async def silent(reader, writer) -> None:
    await asyncio.sleep(30)


async def hang_up(reader, writer) -> None:
    await reader.read(4)


async def http(reader, writer) -> None:
    await reader.read(4)
    writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    await writer.drain()


def server_context(pki, name: str = "server") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki / f"{name}.pem"), str(pki / f"{name}.key"))
    return context


def settings_for(bootstrap: str, pki, **changes: str) -> Settings:
    env = sasl_ssl(pki, KAFKA_BOOTSTRAP_SERVERS=bootstrap, **changes)
    fields = {k.removeprefix("OPTOUT_").lower(): v for k, v in env.items() if k.startswith("OPTOUT_")}
    return Settings(kafka_bootstrap_servers=bootstrap, **{k: v for k, v in fields.items() if v})


async def verdict(settings: Settings, timeout: float = 5.0) -> str:
    started = time.monotonic()
    with pytest.raises(KafkaAccessError) as caught:
        await check_kafka_access(settings, timeout=timeout)
    assert time.monotonic() - started < timeout + 2
    line = str(caught.value)
    assert "\n" not in line and PASSWORD not in line
    return line


async def test_a_certificate_from_another_ca_is_not_trusted(env, pki):
    async with Server(silent, server_context(pki)) as bootstrap:
        line = await verdict(settings_for(bootstrap, pki, OPTOUT_KAFKA_SSL_CA_FILE=str(pki / "other-ca.pem")))
    assert line.startswith(f"the broker's certificate at {bootstrap} is not trusted by "
                           f"OPTOUT_KAFKA_SSL_CA_FILE={pki / 'other-ca.pem'} (")


async def test_a_certificate_for_another_name(env, pki):
    async with Server(silent, server_context(pki, "elsewhere")) as bootstrap:
        line = await verdict(settings_for(bootstrap, pki))
    assert line.startswith(f"the broker's certificate at {bootstrap} is not valid for 127.0.0.1 (")


async def test_tls_to_a_listener_without_tls(env, pki):
    async with Server(http) as bootstrap:
        line = await verdict(settings_for(bootstrap, pki))
    assert line.startswith(f"no TLS at {bootstrap} (") and "may be PLAINTEXT or SASL_PLAINTEXT" in line


async def test_a_listener_that_hangs_up_or_says_nothing(env, pki):
    async with Server(hang_up) as bootstrap:
        line = await verdict(Settings(kafka_bootstrap_servers=bootstrap))
    assert line == (f"Kafka at {bootstrap} closed the connection before answering (OPTOUT_KAFKA_SECURITY_PROTOCOL="
                    "PLAINTEXT; is the listener SSL, SASL_SSL or SASL_PLAINTEXT?)")
    async with Server(silent) as bootstrap:
        line = await verdict(Settings(kafka_bootstrap_servers=bootstrap), timeout=1.0)
    assert line.startswith(f"no answer from Kafka at {bootstrap} within 1 s")


async def test_a_server_that_is_not_there_is_left_to_the_caller(env):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    await check_kafka_access(Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}"), timeout=2)
    with pytest.raises(TopologyError, match="cannot reach Kafka"):  # as before: the same message
        await ensure_topics(Settings(kafka_bootstrap_servers=f"127.0.0.1:{port}"), timeout=2)


async def test_ensure_topics_says_the_one_line(env, pki):
    async with Server(silent, server_context(pki)) as bootstrap:
        with pytest.raises(TopologyError) as caught:
            await ensure_topics(settings_for(bootstrap, pki, OPTOUT_KAFKA_SSL_CA_FILE=str(pki / "other-ca.pem")))
    assert str(caught.value).startswith(f"the broker's certificate at {bootstrap} is not trusted by")


def test_refused_credentials_name_the_user_and_the_mechanism_never_the_password(env, pki):
    settings = settings_for("kafka:9096", pki)
    refused = KafkaConnectionError("Connection at kafka:9096 closed")
    refused.__cause__ = SaslAuthenticationFailed("Authentication failed during authentication due to invalid "
                                                 "credentials with SASL mechanism SCRAM-SHA-512")
    assert explain_failure(settings, "kafka:9096", refused) == (
        "Kafka at kafka:9096 refused the SASL credentials of OPTOUT_KAFKA_SASL_USERNAME=alice (SCRAM-SHA-512)")
    assert explain_failure(settings, "kafka:9096", UnsupportedSaslMechanismError(
        "Kafka broker does not support SCRAM-SHA-512 sasl mechanism. Enabled mechanisms are: ['PLAIN']")) == (
        "Kafka at kafka:9096 does not offer OPTOUT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 (it offers ['PLAIN'])")
    assert explain_failure(settings, "kafka:9096", ConnectionRefusedError(111, "refused")) is None


async def test_a_refused_oauthbearer_token_is_noticed():
    """aiokafka takes the broker's error answer to a token for success; the check does not."""
    class Provider(FileTokenProvider):
        async def token(self) -> str:
            return "a.token."

    authenticator = kafka_security._TokenCheckingAuthenticator(sasl_oauth_token_provider=Provider(Path("x")))
    payload, expects_answer = await authenticator.step(None)
    assert payload == b"n,,\x01auth=Bearer a.token.\x01\x01" and expects_answer
    assert await authenticator.step(b"") is None  # accepted: an empty answer
    authenticator = kafka_security._TokenCheckingAuthenticator(sasl_oauth_token_provider=Provider(Path("x")))
    await authenticator.step(None)
    with pytest.raises(SaslAuthenticationFailed, match="invalid_token"):
        await authenticator.step(b'{"status":"invalid_token"}')


# aiokafka names the check relies on (beyond its public clients): an upgrade that removes one fails here
RELIED_ON = [("aiokafka.conn", "AIOKafkaConnection.connect"), ("aiokafka.conn", "AIOKafkaConnection.authenticator_oauth"),
             ("aiokafka.conn", "AIOKafkaConnection.send"), ("aiokafka.conn", "OAuthAuthenticator.step"),
             ("aiokafka.conn", "collect_hosts"), ("aiokafka.protocol.metadata", "MetadataRequest"),
             ("aiokafka.abc", "AbstractTokenProvider.token")]


@pytest.mark.parametrize(("module", "path"), RELIED_ON, ids=[f"{m}:{p}" for m, p in RELIED_ON])
def test_relied_on_aiokafka_name_still_exists(module, path):
    obj = importlib.import_module(module)
    for part in path.split("."):
        assert hasattr(obj, part), f"{module}.{path} is gone (used by app/runtime/kafka_security.py)"
        obj = getattr(obj, part)
