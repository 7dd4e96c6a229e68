"""The Kafka Streams peer (bench/systems/kstreams/): found, built with Maven when its cached
build is missing or stale, and started. It needs Java 17+ (and Maven, with Maven Central,
for the first build); without them the bench skips its rows with a one-line reason."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from bench.config import REPO, Config
from bench.sut import SYSTEMS_DIR, Proc, Topology
from bench.verify import PROVIDER, SUPPRESSED

PEER_DIR = SYSTEMS_DIR / "kstreams"
CACHE_ROOT = REPO / ".cache" / "kstreams-peer"  # git-ignored, like the broker's jars (.cache/kafka)
MAIN_CLASS = "bench.kstreams.Peer"
JAR = "kstreams-peer.jar"
JVM_OPTS = ("-Xms256m", "-Xmx512m")  # the broker's heap (scripts/kafka.sh)
MIN_JAVA = 17
# what Kafka Streams names its internal topics (bench/systems/kstreams: OptOutTopology)
INTERNAL_TOPICS = ("{app}-by-number-repartition", "{app}-optouts-changelog")


class Unavailable(RuntimeError):
    """No Java, no Maven for a build that is needed, or the build failed: rows skipped."""


def source_digest(peer_dir: Path = PEER_DIR) -> str:
    """sha256 (16 hex) of pom.xml and every file under src/: the build cache's key."""
    digest = hashlib.sha256()
    files = [peer_dir / "pom.xml", *sorted(p for p in (peer_dir / "src").rglob("*") if p.is_file())]
    for path in files:
        digest.update(str(path.relative_to(peer_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def java_major(version_output: str) -> int | None:
    """The major version from `java -version`'s output ('1.8.0_x' -> 8, '17.0.15' -> 17)."""
    match = re.search(r'version "([^"]+)"', version_output)
    if not match:
        return None
    parts = match.group(1).split(".")
    try:
        major = int(re.match(r"\d+", parts[0]).group())  # type: ignore[union-attr]
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except (AttributeError, ValueError):
        return None


def java_version() -> str:
    """The java on PATH, e.g. '17.0.15'; Unavailable if none (or older than 17)."""
    java = shutil.which("java")
    if not java:
        raise Unavailable("no `java` on PATH (Java 17+ needed)")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    text = out.stderr + out.stdout
    major = java_major(text)
    if major is None or major < MIN_JAVA:
        raise Unavailable(f"Java {MIN_JAVA}+ needed, `java -version` says {text.splitlines()[:1]}")
    match = re.search(r'version "([^"]+)"', text)
    return match.group(1) if match else str(major)


def pom_property(name: str, pom: Path = PEER_DIR / "pom.xml") -> str | None:
    match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text())
    return match.group(1).strip() if match else None


def build(log) -> Path:  # type: ignore[no-untyped-def]
    """The build dir (kstreams-peer.jar + lib/) for the current sources, built if missing."""
    out = CACHE_ROOT / source_digest()
    if (out / ".built").exists():
        return out
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two benches at once build once
        if (out / ".built").exists():
            return out
        mvn = shutil.which("mvn")
        if not mvn:
            raise Unavailable("no `mvn` on PATH to build bench/systems/kstreams (Maven + Maven Central needed once)")
        tmp = CACHE_ROOT / f"tmp-{uuid.uuid4().hex[:8]}"
        mvn_log = CACHE_ROOT / "build.log"
        log(f"bench: building the Kafka Streams peer with Maven (once; cached in {out.relative_to(REPO)}) ...")
        with open(mvn_log, "w") as fh:
            done = subprocess.run(
                [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(PEER_DIR / "pom.xml"), "package",
                 "-DskipTests", f"-Dpeer.build.dir={tmp}"],
                stdout=fh, stderr=subprocess.STDOUT, timeout=900)
        if done.returncode != 0 or not (tmp / JAR).exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise Unavailable(f"the Maven build of bench/systems/kstreams failed (exit {done.returncode}; "
                              f"log: {mvn_log.relative_to(REPO)})")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        (out / ".built").write_text(source_digest() + "\n")
        # builds of older sources are of no use
        for old in CACHE_ROOT.iterdir():
            if old.is_dir() and old != out:
                shutil.rmtree(old, ignore_errors=True)
    return out


def prepare(log) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    """(build dir, versions) or Unavailable with the one-line reason."""
    java = java_version()
    built = build(log)
    return built, {"java": java, "kafka_streams": pom_property("kafka.version") or "?",
                   "libphonenumber": pom_property("libphonenumber.version") or "?"}


class KStreamsSystem:
    """The peer: Kafka Streams in one JVM, one stream thread; a cold and a warm pass."""

    filters = True
    warm_pass = True

    def __init__(self, name: str, label: str, guarantee: str, java_guarantee: str, static_membership: bool) -> None:
        self.name = name
        self.label = label
        self.guarantee = guarantee  # the bench's word: at_least_once | exactly_once (read_committed counting)
        self.java_guarantee = java_guarantee  # Kafka Streams' processing.guarantee
        self.static_membership = static_membership
        self.build_dir: Path | None = None

    def topology(self, tag: str) -> Topology:
        tid = f"bench-{self.name}-{tag}-{uuid.uuid4().hex[:6]}"
        return Topology(self.name, tid, f"{tid}.outbound", f"{tid}.provider", f"{tid}.suppressed")

    def optouts_topic(self, topo: Topology) -> str:
        return f"{topo.id}.optouts"

    def topics(self, topo: Topology, cfg: Config) -> dict[str, tuple[int, dict[str, str]]]:
        p = cfg.input_partitions
        return {topo.input: (p, {}), topo.provider: (p, {}), topo.suppressed: (p, {})}

    def internal_topics(self, topo: Topology) -> list[str]:
        return [t.format(app=topo.id) for t in INTERNAL_TOPICS]

    def expected_role(self, opted_out: bool) -> str:
        return SUPPRESSED if opted_out else PROVIDER

    def command(self, passes: list[Topology], optouts: str, bootstrap: str, run_dir: Path) -> list[str]:
        assert self.build_dir is not None, "prepare() first"
        classpath = f"{self.build_dir / JAR}{os.pathsep}{self.build_dir / 'lib'}/*"
        cmd = ["java", *JVM_OPTS, "-cp", classpath, MAIN_CLASS, "--bootstrap", bootstrap,
               "--guarantee", self.java_guarantee, "--optouts", optouts,
               "--state-dir", str(run_dir / "kstreams-state"), "--go", str(self.go_path(run_dir))]
        if self.static_membership:
            cmd.append("--static-membership")
        for topo in passes:
            cmd += ["--pass", topo.id, topo.input, topo.provider, topo.suppressed]
        return cmd

    def go_path(self, run_dir: Path) -> Path:
        return run_dir / "kstreams-go"

    def start(self, passes: list[Topology], optouts: str, bootstrap: str, run_dir: Path) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTOUT_", "JAVA_TOOL_OPTIONS"))}
        return Proc(self.command(passes, optouts, bootstrap, run_dir), env=env, log_path=run_dir / f"{self.name}.log")

    def go(self, run_dir: Path, n: int) -> None:
        """Start pass n (>= 2) in the running JVM, after closing pass n - 1."""
        self.go_path(run_dir).with_name(f"{self.go_path(run_dir).name}.{n}").write_text("go\n")


def systems() -> dict[str, KStreamsSystem]:
    return {
        "kstreams": KStreamsSystem("kstreams", "Kafka Streams (at-least-once)", "at_least_once", "at_least_once",
                                   static_membership=True),
        "kstreams_eos": KStreamsSystem("kstreams_eos", "Kafka Streams (exactly_once_v2)", "exactly_once",
                                       "exactly_once_v2", static_membership=False),
    }
