"""The commands against a real broker and a running worker, as a newcomer runs them:
``reply`` + ``send`` + ``tail`` show the suppressed send; ``demo`` passes end to end.

Every command is a subprocess with the test's topology in its environment (its OPTOUT_*_TOPIC
names, its app id): the commands take their topics from the settings as the worker does.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import REPO, Topology, Worker

pytestmark = pytest.mark.integration

STOPPED = "+14155550142"  # fictional (555-01XX)


@pytest.fixture(scope="module")
def running(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, Worker]]:
    """One worker for the module's tests (each test uses its own account and numbers)."""
    topology = Topology(kafka_bootstrap)
    worker = Worker(topology, Path(tmp_path_factory.mktemp("cli")))
    try:
        worker.start()
        yield topology, worker
    finally:
        worker.stop()


def command_env(topology: Topology, worker: Worker) -> dict[str, str]:
    env = {**os.environ, **topology.env(), "OPTOUT_WEB_PORT": str(worker.port)}
    env.pop("OPTOUT_ADMIN_TOKEN", None)
    return env


def app(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


class Lines:
    """A running command's standard output and error, line by line, as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        for stream, into in ((proc.stdout, self.out), (proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, into), daemon=True).start()

    @staticmethod
    def _pump(stream, into: queue.Queue[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            into.put(line.rstrip("\n"))

    def wait_for(self, into: queue.Queue[str], predicate, timeout: float) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = into.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and into.empty():
                    break
                continue
            seen.append(line)
            if predicate(line):
                return line, seen
        raise AssertionError(f"no such line within {timeout} s; saw {seen}")


def test_reply_send_and_tail_show_the_suppressed_send(running):
    topology, worker = running
    env = command_env(topology, worker)
    tail = subprocess.Popen([sys.executable, "-m", "app", "tail", "--follow"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = Lines(tail)
        ready, _ = lines.wait_for(lines.err, lambda line: line.startswith("tail: "), 30)
        assert "provider, suppressed, consent, review, deadletter" in ready and "from now on" in ready

        stop = app(["reply", "--from", "(415) 555-0142", "--account", "acme", "STOP"], env)
        assert stop.returncode == 0, stop.stderr
        reply_id = stop.stdout.strip()
        assert reply_id.startswith("cli-") and "\n" not in reply_id
        send = app(["send", "--to", STOPPED, "--account", "acme", "Your order has shipped"], env)
        assert send.returncode == 0, send.stderr
        send_id = send.stdout.strip()

        consent, _ = lines.wait_for(lines.out, lambda line: reply_id in line and " consent " in line, 60)
        assert "opt_out applied" in consent
        suppressed, seen = lines.wait_for(lines.out, lambda line: send_id in line, 60)
        assert " suppressed " in suppressed and " opted_out " in suppressed and " acme " in suppressed
        assert "+*******0142" in suppressed
        assert not [line for line in seen if "14155550142" in line or "415) 555-0142" in line]  # masked, every line
    finally:
        tail.send_signal(signal.SIGTERM)
        try:
            code = tail.wait(15)
        except subprocess.TimeoutExpired:
            tail.kill()
            raise
    assert code == 0

    # what the topics hold, and stop: one topic, the numbers whole for the admin token's holder
    admin = {**env, "OPTOUT_ADMIN_TOKEN": "integration-admin-token-0123"}
    held = app(["tail", "--from-beginning", "--numbers", "suppressed"], admin, timeout=60)
    assert held.returncode == 0, held.stderr
    [shown] = [line for line in held.stdout.splitlines() if send_id in line]
    assert f" suppressed {STOPPED} " in shown and "opted_out" in shown
    refused = app(["tail", "--from-beginning", "--numbers", "--admin-token", "not-the-admin-token-at-all",
                   "suppressed"], admin)
    assert refused.returncode == 2 and "is not the admin token" in refused.stderr


def test_the_commands_say_what_is_wrong_in_one_line(running):
    topology, worker = running
    env = command_env(topology, worker)
    missing = app(["send", "--to", STOPPED, "hi"], {**env, "OPTOUT_OUTBOUND_TOPIC": f"{topology.id}.nope"})
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip() == (f"error: no topic {topology.id}.nope on Kafka at {topology.bootstrap}: start "
                                      "the worker (`make run`) or create them (`python -m app create-topics`)")
    invalid = app(["reply", "--from", STOPPED, "--locale", "not a locale", "STOP"], env)
    assert invalid.returncode == 2 and invalid.stderr.startswith("error: --locale 'not a locale'")


def test_the_demo_passes_end_to_end(running):
    topology, worker = running
    env = command_env(topology, worker)
    started = time.monotonic()
    played = app(["demo", "--timeout", "60"], env, timeout=600)
    took = time.monotonic() - started
    assert played.returncode == 0, played.stdout + played.stderr
    out = played.stdout
    for n in range(1, 9):
        assert f"[{n}/8] " in out
    assert out.count(f"http://127.0.0.1:{worker.port}/numbers/%2B1") == 8
    assert "opt_out applied (keyword \"stop\")" in out
    assert "opt_out applied (keyword \"alto\")" in out
    assert " opted_out  demo-" in out  # the send to the opted-out number
    assert "compliance help" in out
    assert " review " in out
    assert "opt_in applied (keyword \"start\")" in out
    assert "cleared for delivery" in out
    assert "opt_out applied (provider twilio 21610)" in out
    assert "8 steps, every outcome as expected" in out
    print(f"demo against a warm worker: {took:.1f} s\n{out}")

    # run again: fresh numbers and account, the same story
    again = app(["demo"], env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr


# ---------------------------------------------------------------- a secured cluster (SASL_SSL)


def test_the_commands_work_against_a_secured_cluster_and_a_wrong_password_is_one_line():
    """send and tail with the OPTOUT_KAFKA_* settings of the SASL_SSL listener (no worker needed:
    tail shows the topic the send went to); a wrong password ends each command in one line."""
    from tests.integration.secured_broker import secured_broker

    with secured_broker() as secured:
        listener = secured.sasl
        topology = Topology(listener.bootstrap)
        env = {**os.environ, **topology.env(), **listener.env}
        env.pop("OPTOUT_ADMIN_TOKEN", None)
        created = app(["create-topics"], env)
        assert created.returncode == 0, created.stderr
        sent = app(["send", "--to", STOPPED, "--account", "acme", "Your order has shipped"], env)
        assert sent.returncode == 0, sent.stderr
        shown = app(["tail", "--from-beginning", "outbound"], env, timeout=60)
        assert shown.returncode == 0, shown.stderr
        [line] = shown.stdout.splitlines()
        assert " outbound " in line and line.endswith(sent.stdout.strip()) and "+*******0142" in line

        if not listener.env.get("OPTOUT_KAFKA_SASL_USERNAME"):
            return  # a given cluster that takes no password
        wrong = "not-the-password-0123456789"
        refused_env = {**env, "OPTOUT_KAFKA_SASL_PASSWORD": wrong}
        refused_env.pop("OPTOUT_KAFKA_SASL_PASSWORD_FILE", None)
        for args in (["send", "--to", STOPPED, "hi"], ["reply", "--from", STOPPED, "STOP"], ["tail"], ["demo"]):
            started = time.monotonic()
            refused = app(args, refused_env, timeout=60)
            assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
            assert time.monotonic() - started < 20, args
            assert refused.stderr.strip().splitlines() == [
                f"error: Kafka at {listener.bootstrap} refused the SASL credentials of OPTOUT_KAFKA_SASL_USERNAME="
                f"{listener.env['OPTOUT_KAFKA_SASL_USERNAME']} ({listener.env['OPTOUT_KAFKA_SASL_MECHANISM']})"], \
                (args, refused.stderr)
            assert wrong not in refused.stdout + refused.stderr
