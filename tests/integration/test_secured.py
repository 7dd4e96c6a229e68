"""Secured Kafka for real: a worker, a lookup, the dashboard's consent tail and an import through
SASL_SSL (SCRAM-SHA-512); mutual TLS and OAUTHBEARER; and a wrong password, an untrusted
certificate or a missing client certificate ending every command in one line and exit 2 within
seconds (the broker: tests/integration/secured_broker.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import REPO, Topology, Worker, outbound_ids
from tests.integration.secured_broker import Listener, SecuredBroker, SecuredCollector, produce, secured_broker
from tests.integration.test_pipeline import reply, send, wait_opted_out

pytestmark = pytest.mark.integration

FAIL_FAST_S = 20.0  # a refused connection must end a command within this
ACCOUNT = "acme"


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredBroker]:
    with secured_broker() as broker:
        yield broker


@pytest.fixture(scope="module")
def live(secured: SecuredBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    """One worker on the SASL_SSL listener, shared by the tests that need one."""
    topology = Topology(secured.sasl.bootstrap)
    worker = Worker(topology, Path(tmp_path_factory.mktemp("secured")), extra_env=security_env(secured.sasl))
    worker.start()
    try:
        yield topology, worker
    finally:
        worker.stop()


def security_env(listener: Listener, **changes: str) -> dict[str, str]:
    """The listener's OPTOUT_KAFKA_* variables, changed (an empty value unsets one)."""
    return {name: value for name, value in listener.env.items() if name != "KAFKA_BOOTSTRAP_SERVERS"} | changes


def run_command(args: list[str], topology: Topology, env: dict[str, str], tmp_path: Path,
                timeout: float = 120) -> tuple[int, str, str, float]:
    """``python -m app ARGS`` with the topology's and ``env``'s variables: (exit status, stdout, stderr, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **topology.env(), "OPTOUT_DATA_DIR": str(tmp_path / "data"), **env})
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def commands(tmp_path: Path) -> dict[str, list[str]]:
    """The three commands that connect at start: each must fail fast on refused access."""
    csv = tmp_path / "fail-fast.csv"
    csv.write_text("phone\n+14155550900\n")
    return {"create-topics": ["create-topics"], "worker": ["worker"],
            "import-optouts": ["import-optouts", str(csv), "--account", ACCOUNT, "--source-format", "csv"]}


def assert_fails_fast(tmp_path: Path, topology: Topology, env: dict[str, str], expected: str,
                      never_shown: tuple[str, ...] = ()) -> None:
    for name, args in commands(tmp_path).items():
        code, stdout, stderr, seconds = run_command(args, topology, env, tmp_path, timeout=60)
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert code == 2, f"{name}: exit {code}\n{stdout}\n{stderr}"
        assert seconds < FAIL_FAST_S, f"{name}: {seconds:.1f} s\n{stderr}"
        assert len(errors) == 1 and expected in errors[0], f"{name}:\n{stderr}"
        assert stderr.rstrip().splitlines()[-1] == errors[0], f"{name}: the error is not the last line:\n{stderr}"
        assert "Traceback" not in stderr, f"{name}:\n{stderr}"
        for secret in never_shown:
            assert secret not in stdout + stderr, f"{name} showed a secret"


# ---------------------------------------------------------------- working through the secured listener


async def test_pipeline_lookup_and_consent_tail_through_sasl_ssl(live, secured):
    topology, worker = live
    listener = secured.sasl
    stopped, other = "+14155550811", "+14155550812"
    await produce(listener, topology.inbound, [reply("sec-stop-1", stopped, "STOP")])
    state = await wait_opted_out(worker, stopped)  # GET /optouts/{number}, answered from the secured changelog
    assert state["number"] == stopped and state["opted_out"] is True
    status, body = worker.get(f"/optouts/{other.replace('+', '%2B')}?account=default")
    assert status == 200 and body["opted_out"] is False

    await produce(listener, topology.outbound, [send("sec-send-1", stopped), send("sec-send-2", other)])
    async with SecuredCollector(listener, topology.outputs) as out:
        await out.until(lambda c: {"sec-send-1", "sec-send-2"} <= set(outbound_ids(c, topology)))
        await out.settle(1.0)
        ids = outbound_ids(out, topology)
    assert ids["sec-send-1"] == ["suppressed:opted_out"]
    assert ids["sec-send-2"] == ["provider"]

    # the dashboard's recent events: the consent tail's own consumer reads sms.consent through SASL_SSL
    # (and the answer is audited on sms.audit by the worker's producer)
    deadline = time.monotonic() + 30
    while True:
        status, model = worker.get("/dashboard/data")
        if status == 200 and model["recent"]["available"] and model["recent"]["events"]:
            break
        assert time.monotonic() < deadline, f"the consent tail never answered: {status} {model}"
        time.sleep(0.5)
    assert any(e["intent"] == "opt_out" for e in model["recent"]["events"])

    if secured.run_dir is not None:  # the password is in no log line
        password = (secured.run_dir / "tls" / "client.password").read_text().strip()
        assert password not in worker.log_path.read_text(errors="replace")


async def test_import_through_sasl_ssl(live, secured, tmp_path):
    topology, worker = live
    numbers = ["+14155550821", "+14155550822", "+14155550823"]
    path = tmp_path / "secured-optouts.csv"
    path.write_text("phone\n" + "".join(f"{n}\n" for n in numbers))
    code, stdout, stderr, seconds = run_command(
        ["import-optouts", str(path), "--account", ACCOUNT, "--source-format", "csv", "--json"], topology,
        security_env(secured.sasl), tmp_path, timeout=180)
    assert code == 0, stderr
    result = json.loads(stdout)["result"]
    assert result["sent"] == 3 and result["failed"] == 0
    assert result["outcomes"] == {"applied": 3, "unchanged": 0, "stale": 0, "replayed": 0}
    for number in numbers:
        await wait_opted_out(worker, number, account=ACCOUNT)


def test_mutual_tls(secured, tmp_path):
    if secured.mtls is None:
        pytest.skip("a given cluster: no mutual-TLS listener of ours")
    topology = Topology(secured.mtls.bootstrap)
    code, stdout, stderr, _ = run_command(["create-topics"], topology, security_env(secured.mtls), tmp_path)
    assert code == 0 and "topics ready" in stdout, stderr
    # without the client certificate, the listener refuses: one line, exit 2
    no_cert = security_env(secured.mtls, OPTOUT_KAFKA_SSL_CERT_FILE="", OPTOUT_KAFKA_SSL_KEY_FILE="",
                           OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE="")
    code, _, stderr, seconds = run_command(["create-topics"], topology, no_cert, tmp_path)
    assert code == 2 and seconds < FAIL_FAST_S
    assert stderr.strip().splitlines() == [stderr.strip()] and "wants a client certificate" in stderr, stderr


def test_oauthbearer_token_file(secured, tmp_path):
    if secured.oauth is None:
        pytest.skip("a given cluster: no OAUTHBEARER listener of ours")
    topology = Topology(secured.oauth.bootstrap)
    code, stdout, stderr, _ = run_command(["create-topics"], topology, security_env(secured.oauth), tmp_path)
    assert code == 0 and "topics ready" in stdout, stderr
    bad = tmp_path / "bad.token"
    bad.write_text("not-a-jwt\n")
    code, _, stderr, seconds = run_command(["create-topics"], topology, security_env(
        secured.oauth, OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE=str(bad)), tmp_path)
    assert code == 2 and seconds < FAIL_FAST_S
    assert stderr.strip().startswith("error: Kafka at ") and "refused the OAUTHBEARER token" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


# ---------------------------------------------------------------- refused: one line, exit 2, within seconds


def test_a_wrong_password_ends_every_command_in_one_line(secured, tmp_path):
    listener = secured.sasl
    if not listener.env.get("OPTOUT_KAFKA_SASL_USERNAME"):
        pytest.skip("the given cluster takes no user name and password")
    wrong = "not-the-password-0123456789"
    env = security_env(listener, OPTOUT_KAFKA_SASL_PASSWORD=wrong, OPTOUT_KAFKA_SASL_PASSWORD_FILE="")
    assert_fails_fast(tmp_path, Topology(listener.bootstrap), env,
                      f"refused the SASL credentials of OPTOUT_KAFKA_SASL_USERNAME="
                      f"{listener.env['OPTOUT_KAFKA_SASL_USERNAME']}", never_shown=(wrong,))


def test_an_untrusted_certificate_ends_every_command_in_one_line(secured, tmp_path):
    listener = secured.sasl
    if listener.env.get("OPTOUT_KAFKA_SECURITY_PROTOCOL") not in ("SSL", "SASL_SSL"):
        pytest.skip("the given cluster does not use TLS")
    other_ca = tmp_path / "other-ca.pem"  # a CA that did not sign the broker's certificate
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "ca.key"),
                    "-out", str(other_ca), "-days", "1", "-subj", "/CN=not the broker's CA"],
                   check=True, capture_output=True, timeout=60)
    env = security_env(listener, OPTOUT_KAFKA_SSL_CA_FILE=str(other_ca))
    assert_fails_fast(tmp_path, Topology(listener.bootstrap), env,
                      f"is not trusted by OPTOUT_KAFKA_SSL_CA_FILE={other_ca}")
