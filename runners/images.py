"""Runtime images: one Dockerfile per environment under ``runners/images/``.

An image's tag carries a digest of its Dockerfile, so editing a Dockerfile
names a new image and ``build`` stays idempotent. On machines without a
registry, ``bootstrap_base`` creates the Debian base locally with
debootstrap and tags it with the name the Dockerfiles start ``FROM``, and
``bootstrap_services`` builds stand-ins for compose.yaml's Redis and
PostgreSQL images from Debian packages (``runners/services/``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import docker
import docker.errors
import requests.exceptions  # the Docker SDK's transport: a dropped connection surfaces as one of these

from engine.errors import ConfigurationError, RunnerError, RunnerUnavailable

REPOSITORY = "tasktrial"
BASE_IMAGE = "debian:bookworm-slim"
BASE_SUITE = "bookworm"
#: What a Docker engine fault looks like from here: the SDK's errors, or its transport's (a dropped
#: connection, a restarted ``dockerd``). Every translation into an engine error catches exactly these.
ENGINE_FAULTS = (docker.errors.DockerException, requests.exceptions.RequestException)


@dataclass(frozen=True)
class RuntimeImage:
    environment: str
    dockerfile: str
    #: The other files of the build context (e.g. an entrypoint), so editing one names a new image too.
    extra: str = ""

    @property
    def tag(self) -> str:
        digest = hashlib.sha256((self.dockerfile + self.extra).encode()).hexdigest()[:12]
        return f"{REPOSITORY}/{self.environment}:{digest}"

    @property
    def base(self) -> str:
        match = re.search(r"^FROM\s+(\S+)", self.dockerfile, re.MULTILINE)
        return match.group(1) if match else BASE_IMAGE


def runtime_images(folder: str = "images") -> dict[str, RuntimeImage]:
    """Every environment this engine knows (or, with ``folder="services"``, every service stand-in), by name."""
    root = resources.files("runners").joinpath(folder)
    found = {}
    for entry in root.iterdir():
        dockerfile = entry.joinpath("Dockerfile")
        if entry.is_dir() and dockerfile.is_file():
            others = sorted(
                (item for item in entry.iterdir() if item.is_file() and item.name != "Dockerfile"),
                key=lambda item: item.name,
            )
            extra = "".join(f"\0{item.name}\0{item.read_text('utf-8')}" for item in others)
            found[entry.name] = RuntimeImage(entry.name, dockerfile.read_text("utf-8"), extra)
    return dict(sorted(found.items()))


def environments() -> tuple[str, ...]:
    return tuple(runtime_images())


def runtime_image(environment: str, *, folder: str = "images") -> RuntimeImage:
    images = runtime_images(folder)
    if environment not in images:
        raise ConfigurationError(f"unknown environment {environment!r}; known: {', '.join(images)}")
    return images[environment]


def client_from_env() -> docker.DockerClient:
    """A Docker client from the usual ``DOCKER_*`` variables, or ``RunnerUnavailable``."""
    try:
        client = docker.from_env()
        client.ping()
    except ENGINE_FAULTS as exc:
        raise RunnerUnavailable(
            f"no Docker engine is reachable ({one_line(exc)}); start dockerd or set DOCKER_HOST"
        ) from exc
    return client


def one_line(value: object, limit: int = 400) -> str:
    """``value`` as a single line of at most ``limit`` characters, for an error message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def engine_errors(doing: str, *, advice: str = "") -> Iterator[None]:
    """Translate the Docker SDK's errors met while ``doing`` something into ``RunnerError``.

    The seam of this module: nothing of docker-py or its transport leaves it,
    so the CLI can print one line and exit 3 instead of a traceback. ``advice``
    (what to do) ends the message of a refusal.
    """
    try:
        yield
    except docker.errors.APIError as exc:
        raise RunnerError(
            f"{doing}: the Docker engine refused ({one_line(exc.explanation or exc)})"
            + (f"; {advice}" if advice else "")
        ) from exc
    except ENGINE_FAULTS as exc:
        raise RunnerUnavailable(
            f"{doing}: the Docker engine stopped answering ({one_line(exc)}); check that dockerd runs (docker info)"
        ) from exc


def has_image(client: docker.DockerClient, name: str) -> bool:
    """Whether the engine holds the image ``name``.

    Raises:
        RunnerError: the engine refused the question (e.g. an invalid name) or stopped answering.
    """
    with engine_errors(f"looking up the image {name}"):
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            return False
    return True


def bootstrap_base(client: docker.DockerClient, *, log: Callable[[str], None] = print) -> str:
    """Make ``BASE_IMAGE`` available: present, pulled, or built with debootstrap.

    Returns how it was made available: ``present``, ``pulled`` or ``debootstrapped``.
    """
    if has_image(client, BASE_IMAGE):
        return "present"
    if _pulled(client, BASE_IMAGE, "building it with debootstrap", log):
        return "pulled"
    if shutil.which("debootstrap") is None:
        raise RunnerError(
            f"{BASE_IMAGE} is neither present nor pullable, and debootstrap is not installed; "
            "install it (apt-get install debootstrap) or give Docker a registry"
        )
    with tempfile.TemporaryDirectory(prefix="tasktrial-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", BASE_SUITE, str(rootfs)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            said = [line for line in proc.stderr.splitlines() + proc.stdout.splitlines() if line.strip()]
            errors = [line for line in said if line.startswith("E:")]  # how debootstrap words its failures
            why = errors[-1] if errors else (said[-1] if said else "no output")
            raise RunnerError(
                f"debootstrap {BASE_SUITE} failed with exit {proc.returncode} "
                f"({one_line(why)}); it needs root and a reachable "
                "Debian mirror (deb.debian.org): fix that and run `tasktrial images bootstrap` again"
            )
        import_rootfs(client, rootfs, BASE_IMAGE)
    return "debootstrapped"


def _pulled(client: docker.DockerClient, name: str, otherwise: str, log: Callable[[str], None]) -> bool:
    """Whether ``name`` could be pulled; a refusal (no registry) is logged as what happens ``otherwise``."""
    with engine_errors(f"pulling {name}"):
        try:
            client.images.pull(name)
        except docker.errors.APIError as exc:
            log(f"cannot pull {name} ({one_line(exc.explanation or exc)}); {otherwise}")
            return False
    return True


@dataclass(frozen=True)
class ServiceImage:
    """A registry image compose.yaml runs, and its stand-in built from ``runners/services/<folder>``."""

    variable: str  # compose.yaml's variable naming the image
    registry: str  # that variable's default
    folder: str
    #: The stand-in's name: its real version, so it never passes for the registry image.
    local: str


SERVICE_IMAGES = (
    ServiceImage("REDIS_IMAGE", "redis:7", "redis", f"{REPOSITORY}/redis:7-bookworm"),
    ServiceImage("POSTGRES_IMAGE", "postgres:16", "postgres", f"{REPOSITORY}/postgres:15-bookworm"),
)


def bootstrap_services(client: docker.DockerClient, *, log: Callable[[str], None] = print) -> dict[str, str]:
    """Make compose.yaml's registry images available, or build stand-ins from Debian packages.

    Needs ``BASE_IMAGE`` (``bootstrap_base``). Returns the image to use for
    each of compose.yaml's image variables (``REDIS_IMAGE``, ``POSTGRES_IMAGE``).
    """
    chosen = {}
    for service in SERVICE_IMAGES:
        built = has_image(client, runtime_image(service.folder, folder="services").tag)
        if has_image(client, service.registry) or (
            not built and _pulled(client, service.registry, f"building {service.local} from Debian packages", log)
        ):
            chosen[service.variable] = service.registry
            continue
        tag = build(client, service.folder, folder="services", log=log)
        repository, _, version = service.local.partition(":")
        client.images.get(tag).tag(repository, version)
        chosen[service.variable] = service.local
    return chosen


def import_rootfs(client: docker.DockerClient, rootfs: Path, name: str) -> None:
    """Import the folder ``rootfs`` as the image ``name`` (what ``docker import`` does).

    The tar is written to a file and posted with its length: docker-py's
    ``import_image_from_stream`` declares a chunked body it does not chunk,
    which Docker 20.10 (Debian's) refuses with "invalid byte in chunk length".

    Raises:
        RunnerError: the engine refused the import, or no image came of it.
    """
    with tempfile.TemporaryDirectory(prefix="tasktrial-import-") as tmp:
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        repository, _, tag = name.partition(":")
        with engine_errors(
            f"importing {name}",
            advice=f"see the Docker engine's log, or bring {name} from a machine "
            "that has it (docker save there, docker load here)",
        ):
            client.api.import_image_from_file(str(archive), repository=repository, tag=tag or "latest")
    if not has_image(client, name):
        raise RunnerError(f"importing {rootfs} did not produce the image {name}")


def build(
    client: docker.DockerClient, environment: str, *, folder: str = "images", log: Callable[[str], None] = print
) -> str:
    """Build the runtime image of ``environment`` (from ``runners/<folder>/``) unless it exists; returns its tag."""
    image = runtime_image(environment, folder=folder)
    if has_image(client, image.tag):
        return image.tag
    if not has_image(client, image.base):
        raise RunnerError(f"base image {image.base} is missing; run `tasktrial images bootstrap` first")
    context = resources.files("runners").joinpath(folder, environment)
    with resources.as_file(context) as path, engine_errors(f"building {image.tag}"):
        try:
            client.images.build(
                path=str(path), tag=image.tag, rm=True, forcerm=True, labels={"tasktrial.environment": environment}
            )
        except docker.errors.BuildError as exc:
            said = [str(line.get("stream", "")).strip() for line in exc.build_log if isinstance(line, dict)]
            said = [line for line in said if line and not line.startswith("--->")]
            last = f" after: {one_line(said[-1], 200)}" if said else ""
            raise RunnerError(
                f"building {image.tag} failed ({one_line(exc.msg)}){last}; the image installs Debian "
                f"packages, so the engine must reach a Debian mirror; see the whole log with "
                f"`docker build {path}`"
            ) from exc
    log(f"built {image.tag}")
    return image.tag
