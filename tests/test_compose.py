"""Static checks of docker-compose.yml and the Dockerfile.

Nothing here can run containers, so these tests prove what can be proved without
them: the file is valid Compose, everything it mounts or builds exists, images are
pinned, start-up conditions can be met, no secret is committed, and the settings it
passes are ones the worker understands; and the README documents every setting.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import pytest
import yaml
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from stream import cli
from stream.config import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
# The shared folder sits beside the clone, both here and in CI.
COMPOSE_SPEC = ROOT.parent / "shared" / "data" / "compose-spec.json"

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
# `${VAR}` or `${VAR:?message}`: the value comes from the environment or compose stops.
# A `${VAR:-default}` is refused because its default is a committed literal.
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}")
REQUIRED_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):?\?")


Service = dict[str, Any]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Service]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def compose_validator() -> Validator:
    if not COMPOSE_SPEC.is_file():
        pytest.fail(
            f"Compose JSON Schema not found at {COMPOSE_SPEC}; the shared folder must sit "
            "beside the repository clone (../shared/data/compose-spec.json)"
        )
    spec = json.loads(COMPOSE_SPEC.read_text(encoding="utf-8"))
    # The spec names draft-07 by its https address; the meta-schema registry files it
    # under the canonical http one. Both are the same draft.
    named = str(spec["$schema"]).replace("https://json-schema.org/", "http://json-schema.org/")
    validator_class = validator_for({"$schema": named}, default=None)
    assert validator_class is not None, f"no jsonschema validator for $schema {named!r}"
    validator_class.check_schema(spec)
    validator: Validator = validator_class(spec)
    return validator


def schema_errors(validator: Validator, document: object) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def environment(service: Service) -> dict[str, str]:
    """A service's environment in either Compose spelling (mapping or KEY=VALUE list)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(item.partition("=")[::2] for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


class Mount(NamedTuple):
    kind: str  # "bind" or "volume"
    source: str
    target: str


def mounts(service: Service) -> list[Mount]:
    """A service's volumes in either Compose spelling; a short-syntax source that looks
    like a path is a bind mount, any other is a named volume."""
    found = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.append(Mount(volume["type"], str(volume["source"]), str(volume["target"])))
        else:
            source, target = volume.split(":")[:2]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            found.append(Mount(kind, source, target))
    return found


def bind_targets(service: Service) -> dict[Path, str]:
    """Repository path (resolved) -> where the container sees it."""
    return {
        (ROOT / mount.source).resolve(): mount.target
        for mount in mounts(service)
        if mount.kind == "bind"
    }


def container_port(mapping: str | int) -> str:
    """The container side of a `[host_ip:][host:]container` port mapping."""
    return str(mapping).rsplit(":", 1)[-1]


def target_source(service: Service, target: str) -> Path:
    """The repository path a service bind-mounts at `target`."""
    sources = [host for host, seen in bind_targets(service).items() if seen == target]
    assert len(sources) == 1, f"expected one bind mount at {target}, found {sources}"
    return sources[0]


def dependencies(service: Service) -> dict[str, str]:
    """`depends_on` as {service: condition}; the list spelling means service_started."""
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def image_tag(image: str) -> str:
    """The tag of `registry:port/name:tag@digest`, or "" when there is none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rpartition(":")[2] if ":" in last else ""


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip() + " "
            continue
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def single(instructions: list[tuple[str, str]], keyword: str) -> str:
    found = [arguments for name, arguments in instructions if name == keyword]
    assert len(found) == 1, f"expected one {keyword} in the Dockerfile, found {found}"
    return found[0]


def test_compose_file_is_valid_compose(
    compose_validator: Validator, compose: dict[str, Any]
) -> None:
    assert schema_errors(compose_validator, compose) == []


def test_schema_check_rejects_a_malformed_service(
    compose_validator: Validator, compose: dict[str, Any]
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["grafana"]["helthcheck"] = {"test": ["CMD", "true"]}
    errors = schema_errors(compose_validator, broken)
    assert any(error.startswith("services/worker/depends_on") for error in errors), errors
    assert any("helthcheck" in error for error in errors), errors


def test_every_bind_mount_and_build_context_exists(services: dict[str, Service]) -> None:
    missing = [
        f"{name}: {source}"
        for name, service in services.items()
        for kind, source, _ in mounts(service)
        if kind == "bind" and not (ROOT / source).exists()
    ]
    assert missing == []
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = (
            build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        )
        assert (context / dockerfile).is_file(), f"{name}: no {context / dockerfile}"


def test_named_volumes_are_declared(compose: dict[str, Any], services: dict[str, Service]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        mount.source
        for service in services.values()
        for mount in mounts(service)
        if mount.kind == "volume"
    }
    assert used, "expected named volumes for Kafka, worker, Prometheus and Grafana data"
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"


def test_every_image_is_pinned(
    services: dict[str, Service], dockerfile: list[tuple[str, str]]
) -> None:
    images = {name: service["image"] for name, service in services.items() if "image" in service}
    images["Dockerfile FROM"] = single(dockerfile, "FROM").split()[0]
    unpinned = {name: image for name, image in images.items() if image_tag(image) in ("", "latest")}
    assert unpinned == {}


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("apache/kafka:4.1.1", "4.1.1"),
        ("registry.local:5000/team/app", ""),
        ("prom/prometheus:latest", "latest"),
        ("grafana/grafana:12.1.1@sha256:abc", "12.1.1"),
    ],
)
def test_image_tag_parsing(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_start_up_conditions_can_be_met(services: dict[str, Service]) -> None:
    for name, service in services.items():
        for target, condition in dependencies(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} healthy"
                assert not services[target]["healthcheck"].get("disable", False)
            if condition == "service_completed_successfully":
                # A restart policy would run the one-shot job again and again.
                assert services[target].get("restart") == "no", f"{target} must not restart"


def test_every_published_service_has_a_healthcheck(services: dict[str, Service]) -> None:
    unchecked = [name for name, s in services.items() if s.get("ports") and "healthcheck" not in s]
    assert unchecked == []


def test_no_secret_value_is_committed(services: dict[str, Service]) -> None:
    secrets = {
        f"{name}.{key}": value
        for name, service in services.items()
        for key, value in environment(service).items()
        if SECRET_NAME.search(key)
    }
    assert secrets, "Grafana's admin password must be passed in from the environment"
    literal = {
        key: value for key, value in secrets.items() if not REQUIRED_VARIABLE.fullmatch(value)
    }
    assert literal == {}


@pytest.mark.parametrize(
    ("value", "from_environment"),
    [
        ("${GRAFANA_ADMIN_PASSWORD:?set it in .env}", True),
        ("${GRAFANA_ADMIN_PASSWORD}", True),
        ("admin", False),
        ("${GRAFANA_ADMIN_PASSWORD:-admin}", False),
        ("x${GRAFANA_ADMIN_PASSWORD}", False),
    ],
)
def test_secret_check_accepts_only_values_from_the_environment(
    value: str, from_environment: bool
) -> None:
    assert bool(REQUIRED_VARIABLE.fullmatch(value)) is from_environment


def test_required_variables_are_documented_in_env_example() -> None:
    required = set(REQUIRED_REFERENCE.findall(COMPOSE.read_text(encoding="utf-8")))
    documented = {
        line.partition("=")[0].strip()
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    assert required, "expected at least GRAFANA_ADMIN_PASSWORD to be required"
    assert required <= documented, f"not in .env.example: {sorted(required - documented)}"
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in gitignore, ".env holds the real password and must stay out of git"


def test_worker_settings_are_ones_the_worker_reads(services: dict[str, Service]) -> None:
    known = {PREFIX + field.name.upper() for field in dataclasses.fields(Settings)}
    passed = {
        key
        for service in services.values()
        for key in environment(service)
        if key.startswith(PREFIX)
    }
    assert passed, "the app services must receive RETAINED_MRR_* settings"
    assert passed - known == set()


def test_app_services_reach_kafka_on_an_advertised_listener(
    services: dict[str, Service],
) -> None:
    advertised = {
        listener.split("://", 1)[1]
        for listener in environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    for name in ("topics", "worker", "simulator"):
        bootstrap = environment(services[name])[f"{PREFIX}KAFKA_BOOTSTRAP"]
        assert bootstrap in advertised, f"{name} uses {bootstrap}, broker advertises {advertised}"


def test_worker_port_matches_image_and_mapping(
    services: dict[str, Service], dockerfile: list[tuple[str, str]]
) -> None:
    worker = services["worker"]
    port = environment(worker)[f"{PREFIX}WEB_PORT"]
    assert port == str(Settings().web_port) == single(dockerfile, "EXPOSE")
    assert any(str(mapping).endswith(f":{port}") for mapping in worker["ports"])
    assert f":{port}/metrics" in " ".join(worker["healthcheck"]["test"])


def test_dockerfile_runs_the_cli_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    entrypoint = json.loads(single(dockerfile, "ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert entrypoint == ["retained-mrr"]
    assert entrypoint[0] in scripts
    assert json.loads(single(dockerfile, "CMD")) == ["worker"]
    assert single(dockerfile, "USER") not in ("root", "0")


def test_dockerfile_copies_only_files_that_exist(dockerfile: list[tuple[str, str]]) -> None:
    sources = [
        source
        for keyword, arguments in dockerfile
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert sources, "the Dockerfile must copy the project in"
    assert [source for source in sources if not (ROOT / source).exists()] == []


def test_dockerfile_parser_joins_continuations() -> None:
    text = '# comment\nFROM python:3.11-slim\nRUN a \\\n    && b\n\nCMD ["worker"]\n'
    assert dockerfile_instructions(text) == [
        ("FROM", "python:3.11-slim"),
        ("RUN", "a && b"),
        ("CMD", '["worker"]'),
    ]


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [PREFIX + field.name.upper() for field in dataclasses.fields(Settings)]
    assert [name for name in names if f"`{name}`" not in readme] == []


def cli_problem(command: list[str], capsys: pytest.CaptureFixture[str]) -> str | None:
    """Why the CLI would refuse `command`, or None. The command must parse, values
    included, and every flag it passes must be one its --help lists: argparse exits on
    --help before it would complain about an unknown flag."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    output = capsys.readouterr()
    if exit_info.value.code != 0:
        return f"{command} rejected: {output.err.strip()}"
    unknown = [
        word
        for word in command
        if word.startswith("--")
        and not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", output.out)
    ]
    return f"{command}: unknown flags {unknown}" if unknown else None


def test_app_commands_are_ones_the_cli_accepts(
    services: dict[str, Service], capsys: pytest.CaptureFixture[str]
) -> None:
    built = {name: service["command"] for name, service in services.items() if "build" in service}
    assert set(built) == {"topics", "worker", "simulator"}
    problems = {name: cli_problem(command, capsys) for name, command in built.items()}
    assert {name: problem for name, problem in problems.items() if problem} == {}


@pytest.mark.parametrize(
    "command",
    [
        ["topics", "craete"],
        ["topics", "create", "--partitions", "8"],
        ["publish", "--dry-run-all", "events.jsonl"],
    ],
)
def test_cli_check_catches_a_mistyped_command(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_problem(command, capsys) is not None


def test_prometheus_config_fits_the_compose_network(services: dict[str, Service]) -> None:
    prometheus = services["prometheus"]
    config_path = next(
        arg.partition("=")[2] for arg in prometheus["command"] if arg.startswith("--config.file=")
    )
    config = yaml.safe_load(target_source(prometheus, config_path).read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    worker_port = environment(services["worker"])[f"{PREFIX}WEB_PORT"]
    assert f"worker:{worker_port}" in targets

    rules_host = (ROOT / "prometheus" / "rules").resolve()
    rules_target = PurePosixPath(bind_targets(prometheus)[rules_host])
    config_dir = PurePosixPath(config_path).parent
    rule_files = [config_dir / pattern for pattern in config.get("rule_files", [])]
    assert rule_files, "Prometheus must load the rules"
    for pattern in rule_files:
        assert pattern.is_relative_to(rules_target), f"{pattern} is outside {rules_target}"
        assert list(rules_host.glob(str(pattern.relative_to(rules_target)))), pattern


def test_grafana_provisioning_fits_the_mounts(services: dict[str, Service]) -> None:
    grafana = services["grafana"]
    provisioning = target_source(grafana, "/etc/grafana/provisioning")
    dashboards_target = bind_targets(grafana)[(ROOT / "grafana" / "dashboards").resolve()]

    def entries(kind: str, key: str) -> list[dict[str, Any]]:
        return [
            entry
            for path in sorted((provisioning / kind).glob("*.y*ml"))
            for entry in yaml.safe_load(path.read_text(encoding="utf-8")).get(key, [])
        ]

    assert {p["options"]["path"] for p in entries("dashboards", "providers")} == {dashboards_target}
    prometheus_port = container_port(services["prometheus"]["ports"][0])
    urls = {d["url"] for d in entries("datasources", "datasources") if d["type"] == "prometheus"}
    assert urls == {f"http://prometheus:{prometheus_port}"}
