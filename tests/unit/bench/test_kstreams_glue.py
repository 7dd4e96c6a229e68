"""bench/kstreams.py: the Java version check, the build cache key and the JVM's command."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import kstreams
from bench.kstreams import java_major, source_digest, systems
from bench.verify import decisions_digest


@pytest.mark.parametrize(("output", "major"), [
    ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ('openjdk version "25-ea" 2025-09-16', 25),
    ("bash: java: command not found", None),
])
def test_java_major(output, major):
    assert java_major(output) == major


def test_the_cache_key_follows_the_sources(tmp_path: Path):
    (tmp_path / "src" / "main").mkdir(parents=True)
    (tmp_path / "pom.xml").write_text("<project/>")
    (tmp_path / "src" / "main" / "A.java").write_text("class A {}")
    first = source_digest(tmp_path)
    assert source_digest(tmp_path) == first
    (tmp_path / "src" / "main" / "A.java").write_text("class A { }")
    assert source_digest(tmp_path) != first


def test_the_real_sources_have_a_key_and_pin_kafka_streams_to_the_brokers_version():
    assert len(source_digest()) == 16
    broker = (kstreams.REPO / "kafka" / "pom.xml").read_text()
    assert f"<kafka.version>{kstreams.pom_property('kafka.version')}</kafka.version>" in broker


def test_the_command_runs_both_passes_in_one_jvm(tmp_path: Path):
    alo, eos = systems()["kstreams"], systems()["kstreams_eos"]
    alo.build_dir = eos.build_dir = tmp_path / "build"
    cold, warm = alo.topology("r1"), alo.topology("r1w")
    cmd = alo.command([cold, warm], "opt", "127.0.0.1:1", tmp_path)
    assert cmd[0] == "java" and kstreams.MAIN_CLASS in cmd
    assert cmd[cmd.index("--guarantee") + 1] == "at_least_once" and "--static-membership" in cmd
    passes = [cmd[i + 1:i + 5] for i, arg in enumerate(cmd) if arg == "--pass"]
    assert passes == [[t.id, t.input, t.provider, t.suppressed] for t in (cold, warm)]
    cmd = eos.command([cold], "opt", "127.0.0.1:1", tmp_path)
    assert cmd[cmd.index("--guarantee") + 1] == "exactly_once_v2" and "--static-membership" not in cmd
    assert eos.guarantee == "exactly_once"  # the bench counts its outputs read_committed
    alo.go(tmp_path, 2)
    assert (tmp_path / "kstreams-go.2").exists()


def test_decision_digests_ignore_order_and_confirmations():
    a = [("provider", "s1"), ("suppressed", "s2")]
    b = [("suppressed", "s2"), ("compliance", "stop-0"), ("provider", "s1")]
    assert decisions_digest(a) == decisions_digest(b)
    assert decisions_digest(a) != decisions_digest([("suppressed", "s1"), ("suppressed", "s2")])


def test_no_java_is_a_one_line_reason_not_a_failure(monkeypatch):
    monkeypatch.setattr(kstreams.shutil, "which", lambda name: None)
    with pytest.raises(kstreams.Unavailable, match=r"^no `java` on PATH \(Java 17\+ needed\)$"):
        kstreams.prepare(print)


def test_no_maven_for_a_missing_build_is_a_one_line_reason(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(kstreams, "CACHE_ROOT", tmp_path)
    monkeypatch.setattr(kstreams.shutil, "which", lambda name: None)
    with pytest.raises(kstreams.Unavailable, match="no `mvn` on PATH"):
        kstreams.build(print)
