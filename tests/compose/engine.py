"""The Docker engine and the base images the compose test needs, started or built when missing.

`python tests/compose/engine.py images` prints the image settings (PYTHON_IMAGE=..., one per
line) for docker-compose, building local images from Debian's packages when the default
images cannot be pulled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "services" / "compose"
BUILD_CA = COMPOSE_DIR / "build-ca"
HOST_EXTRA_CA = Path("/usr/local/share/ca-certificates")
BOOTSTRAP = REPO / "services" / "devstack" / "bootstrap.sh"
SUITE = "bookworm"
DEBIAN_BASE = f"tuneloop-local/debian-python:{SUITE}"
# The image each setting names by default, and how to make a local one when it cannot be pulled.
DEFAULTS = {
    "PYTHON_IMAGE": ("python:3.11-slim", None),
    "REDIS_IMAGE": ("redis:7", "redis.Dockerfile"),
    "PROMETHEUS_IMAGE": ("prom/prometheus:v2.53.2", "prometheus.Dockerfile"),
}


def run(
    *cmd: str, check: bool = True, quiet: bool = False, **kw: object
) -> subprocess.CompletedProcess:
    """Run a command; raise with its output when check and it fails."""
    out = subprocess.run(cmd, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    if not quiet and out.stdout.strip():
        print(out.stdout.rstrip())
    return out


def install(*commands: str) -> None:
    """Install the Debian packages of missing commands where possible (devstack bootstrap)."""
    packages = {"dockerd": "docker.io"}
    missing = [packages.get(c, c) for c in commands if not shutil.which(c)]
    if missing:
        subprocess.run([str(BOOTSTRAP), *missing], check=False)


def engine_answers() -> bool:
    """Return whether a Docker engine answers."""
    if shutil.which("docker") is None:
        return False
    return run("docker", "info", check=False, quiet=True).returncode == 0


class NoEngineError(RuntimeError):
    """No Docker engine answers and none can be started here."""


@dataclass
class Engine:
    """A Docker engine: the one running, or a dockerd this process started (and stops)."""

    started: subprocess.Popen | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "tuneloop-dockerd.log")

    def ensure(self, timeout: float = 60) -> None:
        """Start dockerd unless an engine answers; RuntimeError when none can be started."""
        if engine_answers():
            return
        install("dockerd", "docker-compose")
        if not shutil.which("dockerd"):
            raise NoEngineError("no Docker engine answers and dockerd could not be installed")
        with self.log.open("ab") as log:
            self.started = subprocess.Popen(
                ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not engine_answers():
            if self.started.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise NoEngineError(f"dockerd did not start; see {self.log}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the dockerd this process started, if any."""
        if self.started is None:
            return
        self.started.terminate()
        try:
            self.started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait()
        self.started = None


def have_image(name: str) -> bool:
    """Return whether the engine holds the image."""
    return run("docker", "image", "inspect", name, check=False, quiet=True).returncode == 0


def pulled(name: str) -> bool:
    """Return whether the image is here or could be pulled."""
    return have_image(name) or run("docker", "pull", "-q", name, check=False).returncode == 0


def debian_mirror() -> str | None:
    """Return the host's Debian mirror from its apt sources, if it names one."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2:
                return next((w for w in words[1:] if "://" in w), None)
    return None


def build_debian_base() -> str:
    """Build (once) a Debian image with Python 3 and venv: debootstrap, then docker import."""
    if have_image(DEBIAN_BASE):
        return DEBIAN_BASE
    install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="tuneloop-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        mirror = debian_mirror()
        run(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            SUITE,
            str(root),
            *([mirror] if mirror else []),
            quiet=True,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        run(
            "docker", "import", "-c", "ENV LANG=C.UTF-8", "-c", 'CMD ["bash"]', "-",
            DEBIAN_BASE, stdin=tar.stdout, quiet=True,
        )  # fmt: skip
        tar.wait()
    return DEBIAN_BASE


def local_image(setting: str, dockerfile: str | None) -> str:
    """Return the local stand-in for a setting's image, building it when needed."""
    base = build_debian_base()
    if dockerfile is None:
        return base
    name = f"tuneloop-local/{setting.removesuffix('_IMAGE').lower()}:{SUITE}"
    run(
        "docker", "build", "-q", "--build-arg", f"DEBIAN_IMAGE={base}",
        "-f", str(COMPOSE_DIR / dockerfile), "-t", name, str(COMPOSE_DIR),
        env={**os.environ, "DOCKER_BUILDKIT": "0"}, quiet=True,
    )  # fmt: skip
    return name


def images(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return each image setting: the caller's, the pullable default, or a local stand-in."""
    env = os.environ if env is None else env
    chosen = {}
    for setting, (default, dockerfile) in DEFAULTS.items():
        if env.get(setting):
            chosen[setting] = env[setting]
        elif pulled(default):
            chosen[setting] = default
        else:
            chosen[setting] = local_image(setting, dockerfile)
    return chosen


def copy_build_ca() -> list[Path]:
    """Copy the host's extra CA certificates into the build-only folder; return the copies."""
    copies = []
    for cert in sorted(HOST_EXTRA_CA.glob("*.crt")) if HOST_EXTRA_CA.is_dir() else []:
        target = BUILD_CA / cert.name
        shutil.copyfile(cert, target)
        copies.append(target)
    return copies


if __name__ == "__main__":
    if sys.argv[1:] != ["images"]:
        sys.exit(f"usage: {sys.argv[0]} images")
    engine = Engine()
    engine.ensure()
    for key, value in images().items():
        print(f"{key}={value}")
    if engine.started:
        print(f"# dockerd was started by this command (pid {engine.started.pid}); it keeps running")
