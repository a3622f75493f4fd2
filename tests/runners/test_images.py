"""Runtime images: the import path a machine without a registry depends on."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from runners import images


def _tiny_rootfs(root: Path) -> None:
    """A rootfs of a few files: the host's ``true`` and the shared libraries it loads."""
    true = Path(shutil.which("true") or "/bin/true").resolve()
    libraries = [
        Path(line.split()[-2] if "=>" in line else line.split()[0])
        for line in subprocess.run(["ldd", str(true)], capture_output=True, text=True, check=True).stdout.splitlines()
        if "/" in line
    ]
    for source in [true, *libraries]:
        target = root / source.resolve().relative_to("/") if source != true else root / "bin" / "true"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source.resolve(), target)
        if source != true and source.resolve() != source:  # keep the name the loader asks for
            alias = root / source.relative_to("/")
            alias.parent.mkdir(parents=True, exist_ok=True)
            if not alias.exists():
                shutil.copy2(source.resolve(), alias)


@pytest.mark.docker
def test_a_rootfs_imports_and_runs_through_the_bootstrap_path(docker_client, tmp_path):
    """The same function ``images bootstrap`` uses after debootstrap, without the 40 s debootstrap."""
    _tiny_rootfs(tmp_path / "rootfs")
    name = f"tasktrial-test/import-{uuid.uuid4().hex[:8]}:latest"
    try:
        images.import_rootfs(docker_client, tmp_path / "rootfs", name)
        assert images.has_image(docker_client, name)
        container = docker_client.containers.run(name, ["/bin/true"], network_mode="none", detach=True)
        try:
            assert container.wait(timeout=30)["StatusCode"] == 0
        finally:
            container.remove(force=True)
    finally:
        if images.has_image(docker_client, name):
            docker_client.images.remove(name, force=True)


@pytest.mark.docker
def test_a_refused_import_is_one_runner_error_naming_the_image(docker_client, tmp_path):
    (tmp_path / "rootfs").mkdir()
    with pytest.raises(images.RunnerError, match="NOT A VALID NAME") as caught:
        images.import_rootfs(docker_client, tmp_path / "rootfs", "NOT A VALID NAME")
    assert "\n" not in str(caught.value)
    assert "docker save there, docker load here" in str(caught.value)


@pytest.mark.docker
def test_a_refused_lookup_is_a_runner_error_not_a_docker_api_error(docker_client):
    with pytest.raises(images.RunnerError, match="looking up the image NOT A VALID NAME: the Docker engine refused"):
        images.has_image(docker_client, "NOT A VALID NAME")


def test_service_stand_ins_are_not_task_environments():
    services = images.runtime_images("services")
    assert set(services) == {service.folder for service in images.SERVICE_IMAGES}
    assert not set(services) & set(images.environments())


def test_a_stand_in_s_tag_follows_every_file_of_its_context():
    """Editing only the entrypoint must name a new image, or `bootstrap` would keep the old one."""
    postgres = images.runtime_image("postgres", folder="services")
    assert "entrypoint.sh" in postgres.extra
    edited = images.RuntimeImage(postgres.environment, postgres.dockerfile, postgres.extra + "# edit\n")
    assert edited.tag != postgres.tag
    # Runtime images have a Dockerfile alone: their tags are what they were before stand-ins existed.
    python = images.runtime_image("python")
    assert python.extra == ""


def test_stand_ins_never_take_the_registry_names():
    for service in images.SERVICE_IMAGES:
        assert service.local != service.registry and service.local.startswith(f"{images.REPOSITORY}/")
    postgres = next(s for s in images.SERVICE_IMAGES if s.registry.startswith("postgres"))
    assert "postgresql-15" in images.runtime_image("postgres", folder="services").dockerfile
    assert postgres.local.endswith(":15-bookworm")
