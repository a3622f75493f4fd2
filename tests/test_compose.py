"""compose.yaml and the service Dockerfile, checked without Docker.

The file must be valid Compose (the specification's own JSON Schema), keep
its secrets required, give the Docker socket to the worker alone, and hand
each process exactly the settings ``api.settings.Settings`` reads.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from api.settings import Mode, Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"

SECRETS = ("POSTGRES_PASSWORD", "TASKTRIAL_WORKER_TOKEN")
#: What an operator sets; values are placeholders for the tests.
ENV = {"POSTGRES_PASSWORD": "pg-test-secret", "TASKTRIAL_WORKER_TOKEN": "tt-test-token", "DOCKER_GID": "998"}
SOCKET = "/var/run/docker.sock"


# -- Compose interpolation (the subset of the specification this file may use) --

_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(Exception):
    pass


def _substitute(text: str, env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        present, non_empty = value is not None, bool(value)
        if op in (":?", "?") and not (non_empty if op == ":?" else present):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and not (non_empty if op == ":-" else present):
            return arg
        if op in (":+", "+"):
            return arg if (non_empty if op == ":+" else present) else ""
        return value or ""

    return _VARIABLE.sub(one, text)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def variables(text: str) -> list[tuple[str, str | None, str]]:
    """Every ``${NAME<op><arg>}`` and ``$NAME`` in ``text``: (name, operator, argument)."""
    return [
        (m.group("name") or m.group("bare"), m.group("op"), m.group("arg") or "")
        for m in _VARIABLE.finditer(text)
        if m.group(0) != "$$"
    ]


# -- helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))


@pytest.fixture(scope="module")
def compose(raw) -> dict[str, Any]:
    return interpolate(raw, ENV)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    # The schema declares draft-07 under an https URI that jsonschema does not map, so say it explicitly.
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of each volume entry, short or long syntax."""
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            parts = entry.split(":")
            source, target = parts[0], parts[1]
            options = parts[2].split(",") if len(parts) > 2 else []
            found.append((source, target, "ro" in options))
        else:
            found.append((entry.get("source", ""), entry["target"], bool(entry.get("read_only"))))
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text("utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    """The ENV of the final image (``$PATH``-style references left as written)."""
    env = {}
    for word, rest in final_stage():
        if word == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def settings_for(monkeypatch, env: dict[str, str]) -> Settings:
    """The Settings a process with exactly ``env`` (over the image's ENV) builds."""
    for key in list(os.environ):
        if key.startswith("TASKTRIAL_"):
            monkeypatch.delenv(key)
    for key, value in {**image_env(), **env}.items():
        if key.startswith("TASKTRIAL_"):
            monkeypatch.setenv(key, value)
    return Settings()


# -- the specification --------------------------------------------------------


def test_schema_is_live(validator, raw):
    """The schema rejects what Compose rejects, so a passing validation means something."""
    broken = copy.deepcopy(raw)
    broken["services"]["api"]["depends_on"]["postgres"]["condition"] = "service_ready"
    broken["services"]["worker"]["healthcheck"]["every"] = "10s"
    messages = [error.message for error in validator.iter_errors(broken)]
    assert messages, "the schema accepted an invalid depends_on condition and healthcheck key"


def test_file_validates_against_the_compose_specification(validator, raw, compose):
    for document in (raw, compose):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_services(compose):
    assert set(compose["services"]) == {"api", "worker", "redis", "postgres"}


def test_every_interpolation_is_well_formed():
    text = COMPOSE.read_text("utf-8")
    leftover = _VARIABLE.sub("", text)
    assert "$" not in leftover, f"a `$` that Compose would misread: {leftover[leftover.index('$') - 40 :][:80]!r}"


# -- health and start order ---------------------------------------------------


@pytest.mark.parametrize("name", ["api", "worker", "redis", "postgres"])
def test_every_service_has_a_health_check(compose, name):
    check = compose["services"][name].get("healthcheck")
    assert check, f"{name} has no healthcheck"
    assert not check.get("disable")
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, test


def test_api_health_check_gets_healthz_on_the_port_it_serves(monkeypatch, compose):
    api = compose["services"]["api"]
    settings = settings_for(monkeypatch, environment(api))
    command = " ".join(api["healthcheck"]["test"][1:])
    match = re.search(r"http://127\.0\.0\.1:(\d+)/healthz", command)
    assert match, command
    assert int(match.group(1)) == settings.port
    assert any(str(port).endswith(f":{settings.port}") for port in api["ports"])


def test_redis_and_postgres_health_checks(compose):
    assert "redis-cli ping" in " ".join(compose["services"]["redis"]["healthcheck"]["test"])
    assert "pg_isready" in compose["services"]["postgres"]["healthcheck"]["test"]


def test_worker_health_check_proves_the_engine_and_this_worker_answer(compose):
    script = compose["services"]["worker"]["healthcheck"]["test"][-1]
    compile(script, "worker healthcheck", "exec")
    assert "docker.from_env().ping()" in script
    assert "control.ping" in script and "TASKTRIAL_BROKER_URL" in script


def test_start_order_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    conditions = {
        name: {dep: spec["condition"] for dep, spec in (service.get("depends_on") or {}).items()}
        for name, service in services.items()
    }
    assert conditions == {
        "api": {"postgres": "service_healthy", "redis": "service_healthy"},
        "worker": {"api": "service_healthy", "redis": "service_healthy"},
        "redis": {},
        "postgres": {},
    }


# -- secrets ------------------------------------------------------------------


@pytest.mark.parametrize("secret", SECRETS)
def test_secret_is_required_wherever_it_is_used(secret):
    uses = [(op, arg) for name, op, arg in variables(COMPOSE.read_text("utf-8")) if name == secret]
    assert uses, f"{secret} is not used"
    for op, arg in uses:
        assert op == ":?", f"{secret} must be written ${{{secret}:?message}}, not with {op!r}"
        assert arg.strip(), f"{secret} needs a message telling the operator what to set"


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("value", [None, ""])
def test_compose_refuses_to_start_without_a_secret(raw, secret, value):
    env = {k: v for k, v in ENV.items() if k != secret}
    if value is not None:
        env[secret] = value
    with pytest.raises(MissingVariable, match=secret):
        interpolate(raw, env)


def test_nothing_secret_looking_has_a_default():
    for name, op, _ in variables(COMPOSE.read_text("utf-8")):
        if re.search(r"PASSWORD|TOKEN|SECRET|KEY", name):
            assert op == ":?", f"${{{name}}} must be required (:?), found {op!r}"


def test_passwords_come_only_from_the_environment(compose):
    services = compose["services"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == ENV["POSTGRES_PASSWORD"]
    url = urlsplit(environment(services["api"])["TASKTRIAL_DATABASE_URL"])
    assert (url.username, url.password, url.hostname) == ("tasktrial", ENV["POSTGRES_PASSWORD"], "postgres")
    assert environment(services["postgres"])["POSTGRES_USER"] == url.username
    assert environment(services["worker"])["TASKTRIAL_WORKER_TOKEN"] == ENV["TASKTRIAL_WORKER_TOKEN"]


def test_worker_holds_no_database_credentials(compose):
    worker = json.dumps(compose["services"]["worker"])
    assert ENV["POSTGRES_PASSWORD"] not in worker
    assert "DATABASE_URL" not in worker


# -- privileges and the Docker socket -----------------------------------------


def test_only_the_worker_mounts_the_docker_socket(compose):
    for name, service in compose["services"].items():
        sockets = [(source, target) for source, target, _ in mounts(service) if "docker.sock" in source + target]
        if name == "worker":
            assert sockets == [(SOCKET, SOCKET)]
        else:
            assert not sockets, f"{name} must not get the Docker socket"
            assert "docker.sock" not in json.dumps(service), name
            assert not service.get("use_api_socket"), name


def test_worker_reaches_the_socket_through_its_group_not_as_root(compose):
    worker = compose["services"]["worker"]
    assert worker["group_add"] == [ENV["DOCKER_GID"]]
    assert str(worker.get("user", "")) not in ("root", "0") and not str(worker.get("user", "")).startswith("0:")


@pytest.mark.parametrize("name", ["api", "worker", "redis", "postgres"])
def test_no_service_is_privileged(compose, name):
    service = compose["services"][name]
    assert not service.get("privileged")
    assert not service.get("cap_add")
    for key in ("network_mode", "pid", "ipc", "userns_mode", "uts", "cgroup"):
        assert service.get(key) != "host", f"{name}: {key}: host"
    assert not any("unconfined" in option for option in service.get("security_opt", []))
    assert "no-new-privileges:true" in service.get("security_opt", [])
    assert not service.get("devices")


def test_our_services_drop_every_capability(compose):
    for name in ("api", "worker"):
        assert compose["services"][name].get("cap_drop") == ["ALL"], name


def test_only_the_api_publishes_a_port(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"api"}


def test_redis_postgres_and_worker_have_no_route_out(compose):
    assert compose["networks"]["backend"].get("internal") is True
    for name in ("redis", "postgres", "worker"):
        assert compose["services"][name]["networks"] == ["backend"], name


def test_built_services_are_never_pulled(compose):
    """With both `build` and `image`, Compose pulls first: a registry look-alike would run instead of this code."""
    for name, service in compose["services"].items():
        if "build" in service:
            assert "image" not in service or service.get("pull_policy") == "build", name
            assert service["build"] == ".", f"{name} is built from {service['build']!r}, not this checkout"


# -- the settings each process reads ------------------------------------------


def _tasktrial_names(compose) -> set[str]:
    names = {
        key for service in compose["services"].values() for key in environment(service) if key.startswith("TASKTRIAL_")
    }
    names |= {name for name, _, _ in variables(COMPOSE.read_text("utf-8")) if name.startswith("TASKTRIAL_")}
    return names


def test_every_tasktrial_variable_is_a_setting(compose):
    fields = set(Settings.model_fields)
    names = _tasktrial_names(compose) | {key for key in image_env() if key.startswith("TASKTRIAL_")}
    assert names, "no TASKTRIAL_* variable found"
    unknown = {name for name in names if name.removeprefix("TASKTRIAL_").lower() not in fields}
    assert not unknown, f"not fields of api.settings.Settings: {sorted(unknown)}"


def test_api_runs_in_production_with_postgres_and_the_broker(monkeypatch, compose):
    api = compose["services"]["api"]
    assert api["command"] == ["tasktrial", "serve"]
    settings = settings_for(monkeypatch, environment(api))
    assert settings.mode is Mode.PRODUCTION
    assert settings.host == "0.0.0.0"
    assert urlsplit(settings.database).scheme.startswith("postgresql")
    # A broker means no embedded worker pool: the API itself never needs Docker.
    assert settings.broker_url == "redis://redis:6379/0"


def test_worker_settings_are_what_a_celery_worker_needs(monkeypatch, compose):
    """What ``api.serve.celery_worker`` demands, without starting one (that needs the Docker engine)."""
    import runners
    from api.service import build_pack_store

    worker = compose["services"]["worker"]
    assert worker["command"][:2] == ["tasktrial", "worker"]
    settings = settings_for(monkeypatch, environment(worker))
    api_settings = settings_for(monkeypatch, environment(compose["services"]["api"]))
    assert settings.broker_url == api_settings.broker_url
    assert settings.worker_token == ENV["TASKTRIAL_WORKER_TOKEN"]
    assert settings.public_url == f"http://api:{api_settings.port}"
    assert settings.runner in runners.BACKENDS
    assert settings.database_url is None
    # The built-in catalogue the image ships (tasks/, copied to the settings' folder) loads.
    image_catalogue = settings.model_copy(update={"catalogue_dirs": [REPO / "tasks"]})
    assert build_pack_store(image_catalogue).packs()


def test_commands_exist(compose):
    import typer.main

    from cli.main import app

    commands = typer.main.get_command(app).commands
    for name in ("api", "worker"):
        assert compose["services"][name]["command"][1] in commands


def test_worker_reads_the_pack_store_the_api_writes(monkeypatch, compose):
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    api_packs = settings_for(monkeypatch, environment(api)).packs_dir
    worker_packs = settings_for(monkeypatch, environment(worker)).packs_dir
    writable = [
        (source, read_only)
        for source, target, read_only in mounts(api)
        if PurePosixPath(target) == PurePosixPath(api_packs)
    ]
    readable = [
        (source, read_only)
        for source, target, read_only in mounts(worker)
        if PurePosixPath(target) == PurePosixPath(worker_packs)
    ]
    assert len(writable) == 1 and len(readable) == 1
    (api_source, api_ro), (worker_source, worker_ro) = writable[0], readable[0]
    assert api_source == worker_source and api_source in compose["volumes"]
    assert not api_ro and worker_ro


def test_named_volumes_are_declared(compose):
    for name, service in compose["services"].items():
        for source, _, _ in mounts(service):
            if not source.startswith(("/", ".")):
                assert source in compose["volumes"], f"{name} mounts undeclared volume {source}"


def test_redis_keeps_queued_messages_and_postgres_its_data(compose):
    redis, postgres = compose["services"]["redis"], compose["services"]["postgres"]
    assert redis["image"].startswith("redis:7") and postgres["image"].startswith("postgres:16")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(target == "/data" for _, target, _ in mounts(redis))
    assert any(target == "/var/lib/postgresql/data" for _, target, _ in mounts(postgres))


# -- the service image ---------------------------------------------------------


def test_image_runs_as_a_fixed_non_root_user():
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_image_builds_from_debian_without_pulling_a_frontend():
    text = DOCKERFILE.read_text("utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    bases = [rest.split()[0] for word, rest in dockerfile_instructions() if word == "FROM"]
    assert bases and all(base == "debian:bookworm-slim" for base in bases)


def test_image_ships_the_builtin_catalogue_where_settings_look(monkeypatch):
    settings = settings_for(monkeypatch, {})
    copied = {
        shlex.split(rest)[-1].rstrip("/")
        for word, rest in final_stage()
        if word == "COPY" and shlex.split(rest)[0] == "tasks"
    }
    assert {str(path) for path in settings.catalogue_dirs} <= copied


def test_build_context_leaves_secrets_and_state_out():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()}
    assert {".env", ".git", ".venv", ".tasktrial"} <= ignored
