"""The systems under test: how to lay out their topics, start and stop them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import BENCH_DIR, REPO, Config
from bench.verify import DEADLETTER, PROVIDER, SUPPRESSED

QUIX_VENV = BENCH_DIR / ".venv-quix"
SYSTEMS_DIR = BENCH_DIR / "systems"
VIEWER_TOKEN = "bench-viewer-token"  # the lookups the verification makes need a token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Topology:
    """Unique topic names (and consumer group / app id) for one session of one system."""

    system: str
    id: str
    input: str
    provider: str
    suppressed: str
    deadletter: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # the project's other topics

    @property
    def roles(self) -> dict[str, str]:
        """output topic -> role"""
        out = {self.provider: PROVIDER, self.suppressed: SUPPRESSED}
        if self.deadletter:
            out[self.deadletter] = DEADLETTER
        return out


class Proc:
    """One system process; stdout+stderr go to a log file."""

    def __init__(self, cmd: list[str], *, env: dict[str, str], log_path: Path, cwd: Path = REPO) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.started = time.time()
        self.popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid
        RUNNING[self.pid] = self

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check_alive(self, what: str) -> None:
        if not self.alive():
            raise RuntimeError(f"{what} exited with code {self.popen.returncode}; log tail:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        RUNNING.pop(self.pid, None)
        self._log.close()
        return self.popen.returncode

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


RUNNING: dict[int, Proc] = {}  # every system process still running, stopped on exit


def stop_all() -> None:
    for proc in list(RUNNING.values()):
        proc.stop(timeout=20)


def project_overrides() -> dict[str, str]:
    """``BENCH_PROJECT_ENV``: settings of the project's worker to try, ``OPTOUT_X=1,OPTOUT_Y=2``
    (the worker's own environment is not passed through: a bench measures its defaults)."""
    raw = os.environ.get("BENCH_PROJECT_ENV", "").strip()
    pairs = [part.split("=", 1) for part in raw.split(",") if part.strip()]
    if any(len(pair) != 2 or not pair[0].strip().startswith("OPTOUT_") for pair in pairs):
        raise SystemExit(f"bench: BENCH_PROJECT_ENV={raw!r}: expected OPTOUT_NAME=value pairs, comma-separated")
    return {name.strip(): value.strip() for name, value in pairs}


def _base_env(bootstrap: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTOUT_")}
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ---------------------------------------------------------------- baselines and peer


class ScriptSystem:
    """A baseline or peer script in bench/systems/."""

    filters = True

    def __init__(self, name: str, label: str, script: str, python: str | Path) -> None:
        self.name = name
        self.label = label
        self.script = SYSTEMS_DIR / script
        self.python = str(python)

    def topology(self, tag: str) -> Topology:
        tid = f"bench-{self.name}-{tag}-{uuid.uuid4().hex[:6]}"
        return Topology(self.name, tid, f"{tid}.outbound", f"{tid}.provider", f"{tid}.suppressed")

    def topics(self, topo: Topology, cfg: Config) -> dict[str, tuple[int, dict[str, str]]]:
        p = cfg.input_partitions
        return {topo.input: (p, {}), topo.provider: (p, {}), topo.suppressed: (p, {})}

    def expected_role(self, opted_out: bool) -> str:
        return SUPPRESSED if opted_out and self.filters else PROVIDER

    def start(self, topo: Topology, bootstrap: str, run_dir: Path, optouts_file: Path) -> Proc:
        cmd = [self.python, str(self.script), "--bootstrap", bootstrap, "--input", topo.input,
               "--provider", topo.provider, "--group", topo.id]
        if self.filters:
            cmd += ["--suppressed", topo.suppressed, "--optouts", str(optouts_file)]
        if self.name == "quixstreams":
            cmd += ["--state-dir", str(run_dir / "quix-state")]
        return Proc(cmd, env=_base_env(bootstrap), log_path=run_dir / f"{self.name}.log")


class Passthrough(ScriptSystem):
    filters = False


# ---------------------------------------------------------------- this project


class ProjectSystem:
    """`python -m app worker` with its real settings, only topic names / ports / dirs set."""

    name = "project"
    label = "this project (at-least-once)"
    filters = True
    guarantee = "at_least_once"
    in_place = False  # the send topic partitioned as the table: keyed sends decided in place

    def __init__(self) -> None:
        self.python = sys.executable

    def topology(self, tag: str) -> Topology:
        tid = f"bench-proj-{tag}-{uuid.uuid4().hex[:6]}"
        extra = {name: f"{tid}.{name}" for name in ("inbound", "status", "consent", "review")}
        return Topology(self.name, tid, f"{tid}.outbound", f"{tid}.provider", f"{tid}.suppressed",
                        f"{tid}.deadletter", extra)

    def env(self, topo: Topology, bootstrap: str, cfg: Config) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "OPTOUT_APP_ID": topo.id,
            "OPTOUT_INBOUND_TOPIC": topo.extra["inbound"],
            "OPTOUT_OUTBOUND_TOPIC": topo.input,
            "OPTOUT_PROVIDER_TOPIC": topo.provider,
            "OPTOUT_SUPPRESSED_TOPIC": topo.suppressed,
            "OPTOUT_DEADLETTER_TOPIC": topo.deadletter or "",
            "OPTOUT_STATUS_TOPIC": topo.extra["status"],
            "OPTOUT_CONSENT_TOPIC": topo.extra["consent"],
            "OPTOUT_REVIEW_TOPIC": topo.extra["review"],
            "OPTOUT_INPUT_PARTITIONS": str(cfg.input_partitions),
            # the routed rows: 8 table partitions (the default) against the bench's input partitions,
            # so no send is on its number's partition of the same count (every send is routed);
            # the in-place row: as many table partitions as input partitions
            **({"OPTOUT_PARTITIONS": str(cfg.input_partitions)} if self.in_place else {}),
            "OPTOUT_PROCESSING_GUARANTEE": self.guarantee,
            "OPTOUT_VIEWER_TOKEN": VIEWER_TOKEN,
            **project_overrides(),
        }

    def settings(self, env: dict[str, str]):  # type: ignore[no-untyped-def]
        """The project's own Settings for this env (partitions, internal topic names)."""
        from app.settings import Settings

        saved = dict(os.environ)
        try:
            os.environ.update(env)
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def all_topics(self, topo: Topology, env: dict[str, str]) -> list[str]:
        s = self.settings(env)
        return [topo.input, topo.provider, topo.suppressed, topo.deadletter or "", *topo.extra.values(),
                s.routed_topic, s.changelog_topic]

    def create_topics(self, env: dict[str, str]) -> None:
        subprocess.run([self.python, "-m", "app", "create-topics"], cwd=REPO, env={**_base_env(env["KAFKA_BOOTSTRAP_SERVERS"]), **env},
                       check=True, capture_output=True, text=True, timeout=120)

    def expected_role(self, opted_out: bool) -> str:
        return SUPPRESSED if opted_out else PROVIDER

    def start(self, env: dict[str, str], data_dir: Path, port: int, log_path: Path) -> Worker:
        data_dir.mkdir(parents=True, exist_ok=True)
        full = {**_base_env(env["KAFKA_BOOTSTRAP_SERVERS"]), **env,
                "OPTOUT_DATA_DIR": str(data_dir), "OPTOUT_WEB_PORT": str(port)}
        return Worker([self.python, "-m", "app", "worker"], env=full, log_path=log_path, port=port)


class ProjectExactlyOnce(ProjectSystem):
    """The same worker with ``OPTOUT_PROCESSING_GUARANTEE=exactly_once`` (Kafka transactions)."""

    name = "project_eos"
    label = "this project (exactly-once)"
    guarantee = "exactly_once"


class ProjectInPlace(ProjectExactlyOnce):
    """Exactly-once with the send topic partitioned as the table (``OPTOUT_PARTITIONS`` = the
    input partitions) and the sends keyed by their number (as every bench row's are): each send
    is on its number's partition and decided there, without the routed topic's hop."""

    name = "project_in_place_eos"
    label = "this project (exactly-once, sends keyed by number: decided in place)"
    in_place = True


class Worker(Proc):
    def __init__(self, cmd: list[str], *, env: dict[str, str], log_path: Path, port: int) -> None:
        super().__init__(cmd, env=env, log_path=log_path)
        self.port = port

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                             headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
            return 0, None

    def wait_healthy(self, timeout: float, interval: float = 0.05) -> float:
        """Seconds from process start until /health answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive("the worker")
            status, _ = self.get("/health", timeout=2)
            if status == 200:
                return time.time() - self.started
            time.sleep(interval)
        raise TimeoutError(f"worker not healthy after {timeout}s; log tail:\n{self.log_tail()}")

    def stats(self) -> dict:
        status, body = self.get("/stats?scope=worker")  # this worker's counters (the cluster's: /stats)
        return body if status == 200 and isinstance(body, dict) else {}


def all_systems(cfg: Config) -> dict[str, Any]:
    quix_python = QUIX_VENV / "bin" / "python"
    known = {
        "passthrough": Passthrough("passthrough", "B: passthrough (aiokafka)", "passthrough.py", sys.executable),
        "aiokafka_loop": ScriptSystem("aiokafka_loop", "A: aiokafka loop", "aiokafka_loop.py", sys.executable),
        "quixstreams": ScriptSystem("quixstreams", "quixstreams", "quix_filter.py", quix_python),
        "project": ProjectSystem(),
        "project_eos": ProjectExactlyOnce(),
        "project_in_place_eos": ProjectInPlace(),
    }
    from bench.kstreams import systems as kstreams_systems  # it imports this module

    known.update(kstreams_systems())
    unknown = [s for s in cfg.systems if s not in known]
    if unknown:
        raise SystemExit(f"bench: unknown system(s) in BENCH_SYSTEMS: {unknown}; known: {list(known)}")
    return {name: known[name] for name in cfg.systems}
