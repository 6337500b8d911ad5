"""The language-model worker's packaging: compose profiles, image target and pins (no engine)."""

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUEUES = "--queues=tuneloop.llm,tuneloop.llm.interactive"
ARTIFACTS = "/var/lib/tuneloop/artifacts"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", re.MULTILINE)


def compose_config(*profiles: str) -> dict[str, Any]:
    """`docker-compose [--profile p] config` on the repository's file, as a mapping."""
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not on PATH, but CI must install it")
        pytest.skip("docker-compose is not on PATH (install Debian's docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "TUNELOOP_"))}
    env.update(REDIS_PASSWORD="pw", TUNELOOP_API_KEY="key")
    argv = [found, "--project-directory", str(REPO), "--file", str(REPO / "docker-compose.yml")]
    argv += [arg for p in profiles for arg in ("--profile", p)]
    done = subprocess.run(
        [*argv, "config"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """The services as `docker-compose --profile llm --profile llm-gpu config` resolves them."""
    return compose_config("llm", "llm-gpu")["services"]


@pytest.mark.parametrize("name", ["llm-worker", "llm-worker-gpu"])
def test_the_llm_workers_consume_both_llm_queues_offline_with_the_artifacts_volume(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]
    assert QUEUES in service["command"]
    assert service["build"]["target"] == "llm-worker"
    assert service["image"] == "tuneloop-llm-worker:latest"
    env = service["environment"]
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["TUNELOOP_ARTIFACTS"] == ARTIFACTS
    assert "TUNELOOP_BASE_MODELS" in env
    assert f"artifacts:{ARTIFACTS}:rw" in service["volumes"]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"


def test_only_the_gpu_profile_reserves_an_nvidia_gpu(services: dict[str, Any]) -> None:
    assert services["llm-worker"]["profiles"] == ["llm"]
    assert services["llm-worker-gpu"]["profiles"] == ["llm-gpu"]
    assert "deploy" not in services["llm-worker"]
    devices = services["llm-worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_the_gateway_and_the_worker_share_the_artifacts_volume(services: dict[str, Any]) -> None:
    for name in ("gateway", "worker"):
        assert f"artifacts:{ARTIFACTS}:rw" in services[name]["volumes"], name
        assert services[name]["environment"]["TUNELOOP_ARTIFACTS"] == ARTIFACTS, name


def dockerfile_stages() -> list[tuple[str, str]]:
    """(name, text) of each stage of the services' Dockerfile, in order."""
    text = (REPO / "services" / "Dockerfile").read_text()
    parts = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    return [(p.split("\n", 1)[0].split()[-1], p) for p in parts]


def test_the_llm_stages_come_after_the_other_images() -> None:
    """A builder without BuildKit builds every stage up to its target: never torch for them."""
    names = [name for name, _ in dockerfile_stages()]
    first_llm = names.index("llm-worker-build")
    assert names.index("gateway") < first_llm and names.index("worker") < first_llm
    assert names[first_llm:] == ["llm-worker-build", "llm-worker"]


def test_the_llm_image_installs_the_pins_before_the_code_and_runs_as_a_user() -> None:
    stages = dict(dockerfile_stages())
    build, run = stages["llm-worker-build"], stages["llm-worker"]
    assert build.index("-r requirements-llm.txt") < build.index("COPY shared shared")
    assert "--find-links" in build and "ARG LLM_WHEELS=" in build
    assert '"./shared[learn,llm]"' in build and "pip check" in build
    assert "USER 10001:10001" in run and QUEUES in run


def pins(path: Path) -> dict[str, str]:
    """Package (normalised) -> pinned version of a requirements file, its -r files included."""
    text = path.read_text()
    found = {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in PIN.findall(text)}
    for nested in re.findall(r"^-r\s+(\S+)", text, re.MULTILINE):
        found |= pins(path.parent / nested)
    return found


def test_the_llm_pins_agree_with_every_other_pin_and_cover_the_extra() -> None:
    llm = pins(REPO / "requirements-llm.txt")
    dev = pins(REPO / "requirements-dev.txt")
    assert {n: (v, dev[n]) for n, v in llm.items() if n in dev and dev[n] != v} == {}
    extra = (REPO / "shared" / "pyproject.toml").read_text().split("llm = [", 1)[1].split("]")[0]
    wanted = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', extra))
    assert set(wanted) >= {"torch", "transformers", "peft", "trl", "accelerate", "boto3"}
    assert {n: v for n, v in wanted.items() if llm.get(n.lower()) != v} == {}


def test_make_test_installs_the_llm_extra_and_bench_runs_without_it() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: .*\$\(LLM_STAMP\)", makefile, re.MULTILINE)
    assert re.search(r"^\$\(LLM_STAMP\): \$\(STAMP\) requirements-llm.txt", makefile, re.MULTILINE)
    bench = makefile.split("\nbench: ", 1)[1].split("\n\n", 1)[0]
    guarded = bench.split("bench_llm.py", 1)[0].rsplit("\n", 2)[-2:]
    assert any("import torch, trl, peft" in line and "if" in line for line in guarded)
