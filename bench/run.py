"""`make bench` / `python -m bench`: every figure, for every system, in one run.

Order: broker warm-up; baselines, peer and project (run 1 each, with latency; the
project also with opt-out propagation); the harness floor; the project's table
recovery; the remaining throughput runs; the project's runs 2..N and then its scale-out
sessions (bench/scaleout.py) only while the time budget allows."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import orjson
from tqdm import tqdm

from bench import data, live, report, scaleout, verify
from bench.config import REPO, Config
from bench.kafka_io import (
    Admin,
    CommittedCounter,
    LiveCollector,
    Watermarks,
    bulk_produce,
    default_partition,
    paced_producer,
    read_until,
)
from bench.kstreams import KStreamsSystem, Unavailable, prepare
from bench.procmon import CpuSampler, peak_rss_mib
from bench.sut import QUIX_VENV, Proc, ProjectSystem, Worker, all_systems, free_port, project_overrides, stop_all
from bench.verify import COMPLIANCE, PROVIDER, SUPPRESSED, VerificationError

KAFKA_SH = REPO / "scripts" / "kafka.sh"


def log(msg: str) -> None:
    tqdm.write(msg)


class Bench:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.t0 = time.time()
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.work = cfg.work_dir / self.stamp
        self.bootstrap = cfg.bootstrap or f"127.0.0.1:{cfg.kafka_port}"
        self.started_broker = False
        self.admin: Admin | None = None
        self.systems = all_systems(cfg)
        self.results: dict = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {
                "quick": cfg.quick, "sends": cfg.sends, "numbers": cfg.numbers, "optouts": cfg.optouts,
                "runs": cfg.runs, "input_partitions": cfg.input_partitions, "loads_msg_s": list(cfg.loads),
                "random_keys": cfg.random_keys,
                "load_seconds": cfg.load_seconds, "drain_seconds": cfg.drain_seconds,
                "recovery_records": cfg.recovery_records, "propagation_rounds": cfg.propagation_rounds,
                "budget_s": cfg.budget_s, "scale_workers": list(cfg.scale),
                "project_env": project_overrides(),
            },
            "systems": {},
            "notes": [],
        }
        self.project_run_s: float | None = None
        self.peer_versions: dict[str, str] = {}

    # ------------------------------------------------------------ time

    def elapsed(self) -> float:
        return time.time() - self.t0

    def left(self) -> float:
        return self.cfg.budget_s - self.elapsed()

    # ------------------------------------------------------------ setup

    def ensure_quix_venv(self) -> None:
        python = QUIX_VENV / "bin" / "python"
        marker = QUIX_VENV / ".bench-installed"
        if python.exists() and marker.exists() and not os.environ.get("BENCH_QUIX_UPGRADE"):
            return
        log(f"bench: creating {QUIX_VENV.relative_to(REPO)} with the latest quixstreams from PyPI ...")
        with tqdm(total=3, desc="quixstreams virtualenv", leave=False) as bar:
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
            bar.update()
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, "--upgrade", "pip"], check=True)
            bar.update()
            subprocess.run([*pip, "--upgrade", "quixstreams", "orjson"], check=True)
            bar.update()
        marker.write_text(time.strftime("%Y-%m-%d\n"))

    def prepare_peers(self) -> None:
        """Build the Kafka Streams peer if needed; without Java (or Maven for a first build)
        its rows are skipped with a one-line reason, never the whole bench."""
        peers = [name for name, system in self.systems.items() if isinstance(system, KStreamsSystem)]
        if not peers:
            return
        try:
            build_dir, versions = prepare(log)
        except Unavailable as exc:
            note = f"Kafka Streams rows ({', '.join(peers)}) skipped: {exc}"
            log("bench: " + note)
            self.results["notes"].append(note)
            for name in peers:
                del self.systems[name]
            return
        for name in peers:
            self.systems[name].build_dir = build_dir
        self.peer_versions = versions

    def start_broker(self) -> None:
        if self.cfg.bootstrap:
            log(f"bench: using KAFKA_BOOTSTRAP_SERVERS={self.cfg.bootstrap}")
            return
        env = {**os.environ, "KAFKA_PORT": str(self.cfg.kafka_port)}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        env.pop("KAFKA_CONTROLLER_PORT", None)
        env.pop("KAFKA_RUN_DIR", None)
        status = subprocess.run(["bash", str(KAFKA_SH), "status"], env=env, capture_output=True, text=True)
        if status.returncode == 0:
            log(f"bench: a broker already answers on {self.bootstrap}; using it (not stopping it at the end)")
            return
        log(f"bench: starting a local Kafka broker on {self.bootstrap} (scripts/kafka.sh) ...")
        subprocess.run(["bash", str(KAFKA_SH), "start"], env=env, check=True)
        self.started_broker = True

    def stop_broker(self) -> None:
        """Stop the broker if the bench started it. Its data (≈ 2 GB per run, all of it the
        bench's own topics) is wiped too, unless BENCH_KEEP_TOPICS=1."""
        if not self.started_broker:
            return
        env = {**os.environ, "KAFKA_PORT": str(self.cfg.kafka_port)}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        env.pop("KAFKA_RUN_DIR", None)
        action = "stop" if self.cfg.keep_topics else "wipe"
        subprocess.run(["bash", str(KAFKA_SH), action], env=env, check=False)
        self.started_broker = False

    def machine(self) -> dict:
        def version(dist: str) -> str | None:
            from importlib.metadata import PackageNotFoundError
            from importlib.metadata import version as v

            try:
                return v(dist)
            except PackageNotFoundError:
                return None

        cpu = ""
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        kafka = None
        if not self.cfg.bootstrap:
            pom = (REPO / "kafka" / "pom.xml").read_text()
            start = pom.find("<kafka.version>")
            if start >= 0:
                kafka = pom[start + 15: pom.find("</kafka.version>")]
        quix = None
        if "quixstreams" in self.systems:
            out = subprocess.run([str(QUIX_VENV / "bin" / "python"), "-c",
                                  "import importlib.metadata as m; print(m.version('quixstreams'), "
                                  "m.version('confluent-kafka'))"], capture_output=True, text=True)
            quix = out.stdout.strip() or None
        import confluent_kafka

        return {
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "kafka": kafka or "unknown (external broker)",
            "broker": self.bootstrap + (" (started by the bench)" if self.started_broker else ""),
            "faust_streaming": version("faust-streaming"),
            "aiokafka": version("aiokafka"),
            "quixstreams": quix.split()[0] if quix else None,
            "quix_confluent_kafka": quix.split()[1] if quix and len(quix.split()) > 1 else None,
            "bench_driver_librdkafka": confluent_kafka.libversion()[0],
            **self.peer_versions,  # java, kafka_streams, libphonenumber (when the peer runs)
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        }

    def code_state(self) -> dict:
        """The project code being measured: HEAD, and a digest of uncommitted changes to it."""
        def git(*args: str) -> str:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
            return out.stdout.strip() if out.returncode == 0 else ""

        paths = ["app", "schemas", "constraints.txt"]
        diff = git("diff", "HEAD", "--", *paths) + git("ls-files", "--others", "--exclude-standard", "--", *paths)
        import hashlib

        # the trees of the measured code, not the commit: other files may be committed meanwhile
        trees = " ".join(git("rev-parse", f"HEAD:{p}") for p in paths)
        return {"commit": git("rev-parse", "--short=12", "HEAD") or "unknown",
                "code": hashlib.sha256(trees.encode()).hexdigest()[:12],
                "uncommitted": hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None}

    def _check_code(self, label: str) -> dict:
        now = self.code_state()
        first = self.results.setdefault("code", now)
        same = (now["code"], now["uncommitted"]) == (first["code"], first["uncommitted"])
        if not same and not any("changed during the run" in n for n in self.results["notes"]):
            note = (f"the project's code (app/, schemas/) changed during the run: {first} at the start, {now} "
                    f"at {label}; its runs did not all measure the same code")
            self.results["notes"].append(note)
            log("bench: WARNING: " + note)
        return now

    # ------------------------------------------------------------ one session

    def _produce_sends(self, topic: str, desc: str) -> float:
        p = self.cfg.input_partitions
        if self.cfg.random_keys:  # keyed by their place in the data: partitions unrelated to the numbers
            records = ((key, v, default_partition(key, p)) for i, (_, v) in enumerate(self.ds.sends)
                       for key in (b"k%d" % i,))
        else:
            records = ((k, v, default_partition(k, p)) for k, v in self.ds.sends)
        return bulk_produce(self.bootstrap, topic, records, len(self.ds.sends), desc)

    def session(self, system, run: int, extras: bool) -> dict:
        if getattr(system, "warm_pass", False):
            return self._peer_session(system, run, extras)
        label = f"{system.name} run {run}"
        topo = system.topology(f"r{run}")
        run_dir = self.work / f"{system.name}-r{run}"
        run_dir.mkdir(parents=True, exist_ok=True)
        assert self.admin is not None
        compliance: set[str] | None = None
        t_session = time.time()
        if isinstance(system, ProjectSystem):
            code = self._check_code(label)
            env = system.env(topo, self.bootstrap, self.cfg)
            self.admin.track(system.all_topics(topo, env))
            system.create_topics(env)
            port = free_port()
            compliance = self._load_optouts(system, env, run_dir, port, topo, label)
            self._produce_sends(topo.input, f"{label}: pre-produce sends")
            proc = system.start(env, run_dir / "data", port, run_dir / "worker.log")
        else:
            self.admin.create(system.topics(topo, self.cfg))
            self._produce_sends(topo.input, f"{label}: pre-produce sends")
            proc = system.start(topo, self.bootstrap, run_dir, self.optouts_file)
        try:
            res = self._measure(system, topo, proc, label, compliance, extras)
        finally:
            proc.stop()
        res["session_s"] = round(time.time() - t_session, 1)
        if isinstance(system, ProjectSystem):
            res["code"] = code
        return res

    def _peer_session(self, system: KStreamsSystem, run: int, extras: bool) -> dict:
        """The JVM peer: a cold pass and then a warm pass (the same sends on a second set of
        topics, a second KafkaStreams instance) in one process; the live figures on the warm one."""
        label = f"{system.name} run {run}"
        cold, warm = system.topology(f"r{run}"), system.topology(f"r{run}w")
        run_dir = self.work / f"{system.name}-r{run}"
        run_dir.mkdir(parents=True, exist_ok=True)
        assert self.admin is not None
        t_session = time.time()
        optouts = system.optouts_topic(cold)
        p = self.cfg.input_partitions
        # the opted-out list the baselines get, as a table topic keyed like the project's
        # table ("<E.164>|<account>"), co-partitioned with the repartition topic (murmur2)
        self.admin.create({optouts: (p, {"cleanup.policy": "compact"}),
                           **system.topics(cold, self.cfg), **system.topics(warm, self.cfg)})
        self.admin.track(system.internal_topics(cold) + system.internal_topics(warm))
        time.sleep(1.0)  # new partitions' leaders (else the first produce requests are retried, noisily)
        keys = [f"{number}|default".encode() for number in self.ds.optout_list]
        bulk_produce(self.bootstrap, optouts, ((k, b"1", default_partition(k, p)) for k in keys), len(keys),
                     f"{label}: produce {len(keys):,} opt-outs")
        time.sleep(0.05)  # the sends' timestamps come after every opt-out's
        self._produce_sends(cold.input, f"{label}: pre-produce sends (cold pass)")
        self._produce_sends(warm.input, f"{label}: pre-produce sends (warm pass)")
        proc = system.start([cold, warm], optouts, self.bootstrap, run_dir)
        try:
            sampler = CpuSampler(proc.pid).start()
            ends_cold, done_cold, complete = self._wait_outputs(system, cold, proc, f"{label} cold", 0)
            t_warm = time.time()
            system.go(run_dir, 2)
            ends_warm, done_warm, complete_warm = self._wait_outputs(system, warm, proc, f"{label} warm", 0)
            rss_after_run = peak_rss_mib(proc.pid)
            res: dict = {}
            if extras and complete and complete_warm:
                res.update(self._extras(system, warm, label))
            res["peak_rss_mib"] = round(peak_rss_mib(proc.pid), 1)
            res["peak_rss_after_throughput_mib"] = round(rss_after_run, 1)
            sampler.stop()
        finally:
            proc.stop()
        res.update(self._figures(system, cold, f"{label} cold", ends_cold, sampler, None, proc.started, done_cold))
        res["warm"] = self._figures(system, warm, f"{label} warm", ends_warm, sampler, None, t_warm, done_warm)
        res["session_s"] = round(time.time() - t_session, 1)
        return res

    def _load_optouts(self, system: ProjectSystem, env: dict, run_dir: Path, port: int, topo, label: str) -> set[str]:
        """Start a worker, produce one STOP per opted-out number, wait for /stats opt_outs."""
        worker = system.start(env, run_dir / "data", port, run_dir / "worker-load.log")
        try:
            worker.wait_healthy(120)
            inbound = topo.extra["inbound"]
            p = self.cfg.input_partitions
            stops = []
            for i, number in enumerate(self.ds.optout_list):
                key = number.encode()
                value = orjson.dumps({"message_id": f"stop-{i}", "account_id": "default", "from": number,
                                      "to": data.SENDER, "body": "STOP"})
                stops.append((key, value, default_partition(key, p)))
            bulk_produce(self.bootstrap, inbound, stops, len(stops), f"{label}: produce {len(stops):,} STOPs")
            want = len(stops)
            deadline = time.monotonic() + max(120.0, want / 100)
            # Done = /stats counts every opt-out AND their outputs (one consent-log record and one
            # confirmation each) are on the broker. /stats counts an opt-out before its outputs
            # are written; a worker stopped in between was seen to lose those outputs for good.
            consent = topo.extra["consent"]
            transactional = getattr(system, "guarantee", "") == "exactly_once"
            wm = (CommittedCounter if transactional else Watermarks)(self.bootstrap, [consent, topo.provider])
            with tqdm(total=want, desc=f"{label}: worker records opt-outs", unit="opt-out", unit_scale=True,
                      leave=False) as bar:
                while True:
                    got = int(worker.stats().get("opt_outs", 0))
                    bar.update(got - bar.n)
                    written = wm.per_topic()
                    if got >= want and written[consent] >= want and written[topo.provider] >= want:
                        break
                    worker.check_alive("the worker (loading opt-outs)")
                    if time.monotonic() > deadline:
                        raise VerificationError(
                            f"{label}: loading {want} STOPs: /stats opt_outs={got}, consent log records="
                            f"{written[consent]}, confirmations={written[topo.provider]} (expected {want} each) "
                            f"after {max(120.0, want / 100):.0f}s; worker log: {worker.log_path}")
                    time.sleep(0.1)
            wm.close()
            stats = worker.stats()
            if stats.get("opt_outs") != want or stats.get("dead_lettered"):
                raise VerificationError(f"{label}: after loading, /stats says {stats}; expected opt_outs={want}")
            for number in self.ds.optout_list[:: max(1, want // 20)]:
                status, body = worker.get(f"/optouts/{number}")
                if status != 200 or not body or body.get("opted_out") is not True:
                    raise VerificationError(f"{label}: /optouts/{number} answered {status} {body} after loading")
            status, body = worker.get(f"/optouts/{self.ds.fresh[-1]}")
            if status != 200 or body.get("opted_out") is not False:
                raise VerificationError(f"{label}: /optouts/{self.ds.fresh[-1]} (never opted out) answered {body}")
        finally:
            worker.stop()
        return {f"stop-{i}" for i in range(len(self.ds.optout_list))}

    def _measure(self, system, topo, proc: Proc, label: str, compliance: set[str] | None, extras: bool) -> dict:
        sampler = CpuSampler(proc.pid).start()
        ends, t_done, complete = self._wait_outputs(system, topo, proc, label, len(compliance or ()))
        rss_after_run = peak_rss_mib(proc.pid)
        res: dict = {}
        if extras and complete:
            res.update(self._extras(system, topo, label))
        res["peak_rss_mib"] = round(peak_rss_mib(proc.pid), 1)
        res["peak_rss_after_throughput_mib"] = round(rss_after_run, 1)
        if isinstance(proc, Worker):  # the project: how many sends took no routed hop
            res["decided_in_place"] = proc.stats().get("decided_in_place")
        sampler.stop()
        proc.stop()
        res.update(self._figures(system, topo, label, ends, sampler, compliance, proc.started, t_done))
        return res

    def _wait_outputs(self, system, topo, proc: Proc, label: str, extra_records: int) -> tuple[dict, float, bool]:
        """Wait until the N sends came out on ``topo``'s outputs: (end offsets, time done,
        complete). A system that stops producing outputs (120 s before its first one, 30 s
        after) is verified as it is, so the failure names what is missing."""
        n = len(self.ds.sends)
        transactional = getattr(system, "guarantee", "") == "exactly_once"
        wm = (CommittedCounter if transactional else Watermarks)(self.bootstrap, list(topo.roles))
        complete = True
        last_total, last_change = -1, time.monotonic()
        with tqdm(total=n, desc=f"{label}: processing", unit="msg", unit_scale=True, leave=False) as bar:
            while True:
                total = sum(wm.per_topic().values())
                done = max(0, total - extra_records)
                bar.update(min(done, n) - bar.n)
                if done >= n:
                    break
                if total != last_total:
                    last_total, last_change = total, time.monotonic()
                proc.check_alive(system.name)
                stall_limit = 30.0 if done > 0 else 120.0
                if time.monotonic() - last_change > stall_limit:
                    log(f"  {label}: no new output for {stall_limit:.0f}s at {done:,}/{n:,}; verifying what is there")
                    complete = False
                    break
                time.sleep(0.2)
        t_done = time.time()
        time.sleep(1.0)  # anything extra (duplicates) written right after would show up now
        ends = wm.ends()
        wm.close()
        return ends, t_done, complete

    def _figures(self, system, topo, label: str, ends: dict, sampler: CpuSampler, compliance: set[str] | None,
                 started: float, t_done: float) -> dict:
        """Read back and verify ``topo``'s outputs, then the throughput and CPU figures of
        the outputs' first-last window (``started``: when the system began this work)."""
        n = len(self.ds.sends)
        records = read_until(self.bootstrap, ends, f"{label}: read back outputs")
        roles = topo.roles
        outs: list[tuple[str, str]] = []
        stamps: list[int] = []
        ts_types = set()
        for topic, value, ts_type, ts in records:
            kind, mid, _ = verify.parse_output(roles[topic], value)
            outs.append((kind, mid))
            if kind != COMPLIANCE:
                stamps.append(ts)
                ts_types.add(ts_type)
        expected = {mid: system.expected_role(role == SUPPRESSED) for mid, role in self.ds.expected.items()}
        counts = verify.check(label, outs, expected, compliance=compliance)
        first, last = min(stamps), max(stamps)
        if first < (started - 1) * 1000 or ts_types != {1}:
            raise RuntimeError(f"{label}: output timestamps are not the system's produce times "
                               f"(types {ts_types}, first {first} ms, the system started {started * 1000:.0f} ms)")
        span = max(1, last - first) / 1000
        cpu = sampler.between(first, last)
        res = {
            "verified": True,
            "counts": counts,
            "decisions_sha256_16": verify.decisions_digest(outs),
            "throughput_msg_s": round(n / span, 1),
            "span_s": round(span, 3),
            "wall_s": round((last / 1000) - started, 2),
            "startup_to_first_output_s": round((first / 1000) - started, 2),
            "cpu_us_per_msg": round(cpu / n * 1e6, 1),
            "cpu_us_per_msg_whole_process": round(sampler.between(started * 1000, t_done * 1000) / n * 1e6, 1),
            "cpu_cores_busy": round(cpu / span, 2),
            "timestamp_type": sorted(ts_types),
        }
        log(f"  {label}: {res['throughput_msg_s']:,.0f} msg/s, {res['cpu_us_per_msg']} µs CPU/msg, verified {counts}")
        return res

    def _extras(self, system, topo, label: str) -> dict:
        out: dict = {}
        recorder = live.Recorder(topo.roles)
        collector = LiveCollector(self.bootstrap, list(topo.roles), recorder).start()
        producer = paced_producer(self.bootstrap)
        try:
            if isinstance(system, ProjectSystem) and self.cfg.propagation_rounds > 0:
                rounds = self.ds.fresh[: self.cfg.propagation_rounds]
                out["propagation"] = live.propagation(label=label, producer=producer, inbound=topo.extra["inbound"],
                                                      outbound=topo.input, numbers=rounds, recorder=recorder)
                p = out["propagation"]
                log(f"  {label}: opt-out propagation p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max {p['max_ms']} ms")
            recipients = [k.decode() for k, _ in self.ds.sends]
            out["latency"] = live.latency_figure(
                label=system.name, producer=producer, topic=topo.input, loads=self.cfg.loads,
                seconds=self.cfg.load_seconds, drain=self.cfg.drain_seconds, recipients=recipients,
                opted_out=self.ds.opted_out, role_of=system.expected_role, recorder=recorder,
                random_keys=self.cfg.random_keys)
            if collector.error:
                raise RuntimeError(f"collector failed: {collector.error!r}")
        finally:
            producer.flush(5)
            producer.close()
            collector.stop()
        return out

    def floor(self, loads: tuple[int, ...] | None = None, seconds: float | None = None, name: str = "floor") -> dict:
        """The harness alone: paced producer -> one topic -> collector, no system between."""
        assert self.admin is not None
        loads = loads or self.cfg.loads
        seconds = seconds or self.cfg.load_seconds
        topic = f"bench-{name}-{self.stamp.lower()}"
        self.admin.create({topic: (self.cfg.input_partitions, {})})
        recorder = live.Recorder({topic: PROVIDER})
        collector = LiveCollector(self.bootstrap, [topic], recorder).start()
        producer = paced_producer(self.bootstrap)
        try:
            # prime: the first record to a new topic waits for its metadata
            producer.produce(topic, orjson.dumps({"message_id": "prime-0"}))
            producer.flush(10)
            deadline = time.monotonic() + 10
            while not recorder.get("prime") and time.monotonic() < deadline:
                time.sleep(0.01)
            recipients = [k.decode() for k, _ in self.ds.sends]
            return live.latency_figure(label=f"harness {name}", producer=producer, topic=topic, loads=loads,
                                       seconds=seconds, drain=self.cfg.drain_seconds,
                                       recipients=recipients, opted_out=self.ds.opted_out,
                                       role_of=lambda opted: PROVIDER, recorder=recorder,
                                       skip_after_saturation=name != "warmup")
        finally:
            producer.flush(5)
            producer.close()
            collector.stop()

    # ------------------------------------------------------------ recovery

    def recovery(self) -> dict:
        system = ProjectSystem()
        assert self.admin is not None
        self._check_code("recovery")
        records = self.cfg.recovery_records
        # 1. a worker whose changelog is empty: the fixed start-up cost
        topo_e = system.topology("empty")
        env_e = system.env(topo_e, self.bootstrap, self.cfg)
        self.admin.track(system.all_topics(topo_e, env_e))
        system.create_topics(env_e)
        run_dir = self.work / "recovery"
        worker = system.start(env_e, run_dir / "data-empty", free_port(), run_dir / "worker-empty.log")
        try:
            empty_s = self._timed_health(worker, "recovery: start-up, empty changelog", 180)
            rss_empty = peak_rss_mib(worker.pid)
        finally:
            worker.stop()
        # 2. a changelog holding `records` opt-outs, written directly
        from app.stream.partitioner import partition_for

        topo = system.topology("recovery")
        env = system.env(topo, self.bootstrap, self.cfg)
        settings = system.settings(env)
        self.admin.track(system.all_topics(topo, env))
        self.admin.create({settings.changelog_topic: (settings.partitions, {"cleanup.policy": "compact"})},
                          track=False)
        system.create_topics(env)
        cleanup = self.admin.config(settings.changelog_topic).get("cleanup.policy")
        if cleanup != "compact":
            raise RuntimeError(f"{settings.changelog_topic} has cleanup.policy={cleanup}, expected compact")
        nums = data.numbers(records + 1, self.cfg.seed, self.cfg.cache_dir)
        never = nums.pop()  # not in the changelog: must answer opted_out false
        parts = settings.partitions

        def gen():
            for i, number in enumerate(nums):
                yield f"{number}|default".encode(), data.changelog_value(f"r{i}"), partition_for(number, parts)

        write_s = bulk_produce(self.bootstrap, settings.changelog_topic, gen(), records,
                               f"recovery: write {records:,} opt-outs to the changelog")
        log(f"  recovery: wrote {records:,} changelog records in {write_s:.1f}s ({records / write_s:,.0f}/s)")
        worker = system.start(env, run_dir / "data-recovery", free_port(), run_dir / "worker-recovery.log")
        try:
            full_s = self._timed_health(worker, f"recovery: start-up, {records:,} opt-outs", max(300.0, self.left()))
            rss_full = peak_rss_mib(worker.pid)
            step = max(1, records // 200)
            for i in range(0, records, step):
                status, body = worker.get(f"/optouts/{nums[i]}")
                if status != 200 or not body or body.get("opted_out") is not True or body.get("message_id") != f"r{i}":
                    raise VerificationError(f"recovery: /optouts/{nums[i]} answered {status} {body} after recovery")
            status, body = worker.get(f"/optouts/{never}")
            if status != 200 or body.get("opted_out") is not False:
                raise VerificationError(f"recovery: /optouts/{never} (never opted out) answered {status} {body}")
        finally:
            worker.stop()
        recovery_s = full_s - empty_s
        res = {
            "records": records,
            "partitions": parts,
            "changelog_write_s": round(write_s, 2),
            "startup_empty_s": round(empty_s, 2),
            "startup_with_records_s": round(full_s, 2),
            "recovery_s": round(recovery_s, 2),
            "recovery_records_s": round(records / recovery_s, 1) if recovery_s > 0 else None,
            "peak_rss_empty_mib": round(rss_empty, 1),
            "peak_rss_with_records_mib": round(rss_full, 1),
            "verified_lookups": len(range(0, records, step)) + 1,
        }
        rate = res["recovery_records_s"]  # None: no slower than an empty start (too few records to tell)
        log(f"  recovery: {records:,} opt-outs: start-up {full_s:.1f}s vs {empty_s:.1f}s empty -> "
            f"{f'{rate:,} records/s' if rate else 'too few records to tell'}; peak RSS {rss_full:.0f} MiB")
        return res

    def _timed_health(self, worker, desc: str, timeout: float) -> float:
        with tqdm(desc=desc, unit="s", leave=False, bar_format="{desc}: {elapsed}", mininterval=0.5) as bar:
            deadline = time.monotonic() + timeout
            while True:
                worker.check_alive("the worker")
                status, _ = worker.get("/health", timeout=2)
                if status == 200:
                    return time.time() - worker.started
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{desc}: not healthy after {timeout:.0f}s; log tail:\n{worker.log_tail()}")
                bar.update()
                time.sleep(0.05)

    # ------------------------------------------------------------ the whole run

    def run(self) -> None:
        cfg = self.cfg
        if "quixstreams" in self.systems:
            self.ensure_quix_venv()
        self.prepare_peers()
        self.start_broker()
        self.admin = Admin(self.bootstrap)
        self.results["machine"] = self.machine()
        self.results["code"] = self.code_state()
        extra = max(1000, cfg.propagation_rounds)
        data.numbers(max(cfg.numbers + extra, cfg.recovery_records + 1), cfg.seed, cfg.cache_dir)  # once, cached
        self.ds = data.build(cfg.sends, cfg.numbers, cfg.optouts, cfg.seed, cfg.cache_dir,
                             extra=extra)
        self._prune_work()
        self.work.mkdir(parents=True, exist_ok=True)
        self.optouts_file = self.work / "optouts.txt"
        self.optouts_file.write_text("\n".join(self.ds.optout_list) + "\n")
        self.results["data"] = {
            "sends": len(self.ds.sends), "distinct_numbers": len(self.ds.pool), "opted_out": len(self.ds.opted_out),
            "expected_provider": self.ds.provider_count, "expected_suppressed": self.ds.suppressed_count,
            "sha256_16": self.ds.digest,
        }
        log(f"bench: {len(self.ds.sends):,} sends to {len(self.ds.pool):,} numbers, {len(self.ds.opted_out):,} opted "
            f"out (expect {self.ds.provider_count:,} provider / {self.ds.suppressed_count:,} suppressed); "
            f"broker {self.bootstrap}")
        # A fresh broker (JVM) adds 0.4-1 s of latency for its first ~7 s of traffic over several
        # partitions: warm it up before anything is measured (reported in the JSON only).
        self.results["warmup"] = {
            **self.floor(loads=(5_000,), seconds=8.0, name="warmup"),
            **self.floor(loads=(20_000,), seconds=3.0, name="warmup2"),
        }
        runs: dict[str, list[dict]] = {name: [] for name in self.systems}
        extras: dict[str, dict] = {name: {} for name in self.systems}

        def one(name: str, run: int, with_extras: bool) -> None:
            res = self.session(self.systems[name], run, with_extras)
            for key in ("latency", "propagation"):
                if key in res:
                    extras[name][key] = res.pop(key)
            runs[name].append(res)
            self._summarize(runs, extras)

        # 1. run 1 of everything, with the live figures
        for name in self.systems:
            t = time.time()
            one(name, 1, True)
            if name == "project":
                self.project_run_s = time.time() - t
        # the harness's own latency, on a broker warmed up by the runs above
        if cfg.floor:
            self.results["floor"] = self.floor()
        # 2. the project's recovery
        if "project" in self.systems and cfg.recovery_records > 0:
            self.results["recovery"] = self.recovery()
        # 3. the other throughput runs
        for run in range(2, cfg.runs + 1):
            for name in self.systems:
                if name != "project":
                    one(name, run, False)
        # 4. the project's other runs, while the budget allows
        if "project" in self.systems:
            for run in range(2, cfg.runs + 1):
                estimate = max(30.0, (runs["project"][0].get("session_s") or 60) * 1.15)
                if self.left() < estimate + 20:
                    note = (f"this project: {len(runs['project'])} throughput run(s), not {cfg.runs} "
                            f"(another run would take ~{estimate:.0f}s; {max(0, self.left()):.0f}s of the "
                            f"{cfg.budget_s:.0f}s budget left)")
                    self.results["notes"].append(note)
                    log("bench: " + note)
                    break
                one("project", run, False)
        # 5. the project's scale-out figure (1, 2, 3 workers of one group), while the budget allows
        if "project" in self.systems and cfg.scale:
            first = runs["project"][-1].get("session_s") or 60.0  # run 2+ if any: no live figures in it
            self.results["scale_out"] = scaleout.measure(self, cfg.scale, first)
        self._summarize(runs, extras)

    def _prune_work(self) -> None:
        """Keep only this run's scratch dir (logs, worker data dirs) in bench/.work."""
        if not self.cfg.work_dir.is_dir():
            return
        for path in self.cfg.work_dir.iterdir():
            if path.is_dir() and path.name[:2] == "20" and path != self.work:
                shutil.rmtree(path, ignore_errors=True)

    def _summarize(self, runs: dict[str, list[dict]], extras: dict[str, dict]) -> None:
        systems = {}
        for name, results in runs.items():
            if not results:
                continue
            system = self.systems[name]
            systems[name] = {
                "label": system.label,
                "runs": results,
                "n_runs": len(results),
                "throughput_msg_s": round(statistics.median(r["throughput_msg_s"] for r in results), 1),
                "cpu_us_per_msg": round(statistics.median(r["cpu_us_per_msg"] for r in results), 1),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
                **extras[name],
            }
            warm = [r["warm"] for r in results if "warm" in r]
            if warm:
                systems[name]["warm_throughput_msg_s"] = round(statistics.median(w["throughput_msg_s"] for w in warm), 1)
                systems[name]["warm_cpu_us_per_msg"] = round(statistics.median(w["cpu_us_per_msg"] for w in warm), 1)
        self.results["systems"] = systems
        # every filtering system's decisions, send by send (each run was verified against
        # the expected routing, so equal digests say the same thing once more, explicitly)
        digests = {name: sorted({d for r in results for d in (r.get("decisions_sha256_16"),
                                                               (r.get("warm") or {}).get("decisions_sha256_16")) if d})
                   for name, results in runs.items() if results and self.systems[name].filters}
        if any(name in digests for name in ("kstreams", "kstreams_eos")):
            self.results["decisions"] = {"digests": digests,
                                         "identical": len({d for ds in digests.values() for d in ds}) == 1}

    def cleanup(self) -> None:
        stop_all()
        if self.admin is not None and not self.cfg.keep_topics:
            try:
                self.admin.delete_created()
            except Exception as exc:  # noqa: BLE001 - best effort
                log(f"bench: could not delete the bench's topics: {exc!r}")
        # librdkafka handles that outlive the broker log reconnect failures: drop them first
        self.admin = None
        import gc

        gc.collect()
        self.stop_broker()


def _on_sigterm(signum, frame):  # type: ignore[no-untyped-def]
    raise KeyboardInterrupt  # so that `finally` stops the systems and the broker


def main() -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    cfg = Config.from_env()
    cfg.check()
    bench = Bench(cfg)
    status = 0
    try:
        bench.run()
    except VerificationError as exc:
        print(f"\nbench: FAILED: {exc}\nbench: no figures reported.", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("\nbench: interrupted", file=sys.stderr)
        status = 130
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        print(f"\nbench: FAILED: {exc}", file=sys.stderr)
        status = 1
    finally:
        bench.cleanup()
    total = time.time() - bench.t0
    if status == 0:
        bench.results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        bench.results["total_s"] = round(total, 1)
        bench.results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        paths = report.write(bench.results, cfg.results_dir, bench.stamp)
        print(report.markdown(bench.results))
        print(f"bench: done in {total:.0f}s; results: " + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO)
                                                                  else str(p) for p in paths))
        if total > cfg.budget_s + 60:
            print(f"bench: note: took {total:.0f}s, over the {cfg.budget_s:.0f}s budget", file=sys.stderr)
    return status
