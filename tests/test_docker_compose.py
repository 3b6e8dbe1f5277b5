"""The production-shaped stack (docker-compose.yml, Dockerfile, .env.example), checked statically.

There is no container engine in CI, so these tests read the files and check what a broken
deployment would get wrong: a missing service, a wrong start order, a DB URL or an execution
API URL that points nowhere, a mount of a path that is not in the repository, a secret
written into the file, a DAGs folder that is not where the DAGs are mounted, an image that
drifts from the Airflow version the project pins; and, for the `celery` profile, a worker
or Flower that does not share the stack's settings and data, a broker or result backend that
points nowhere, an executor that does not switch with the profile, a service without a
healthcheck. Where a Compose client is installed, it validates the file as well.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from touchline.config import WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

CORE_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
# `docker compose --profile celery up`: the broker, the workers, Flower
CELERY_PROFILE = "celery"
CELERY_SERVICES = ("redis", "airflow-worker", "airflow-flower")
AIRFLOW_SERVICES = (*CORE_SERVICES, "airflow-worker", "airflow-flower")
LONG_RUNNING = tuple(s for s in AIRFLOW_SERVICES if s != "airflow-init")
EXECUTOR_SETTING = "${TOUCHLINE_EXECUTOR:-LocalExecutor}"
SHARED_SECRETS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
)
# ${VAR}, ${VAR:?message}, ${VAR?message}: taken from the environment, no default in the file.
REQUIRED_REFERENCE = re.compile(r"^\$\{(?P<name>[A-Za-z_]\w*)(?::?\?[^}]*)?\}$")
# (`$${VAR}` is Compose's escape for a literal `${VAR}`, left to the container's shell)
ANY_REFERENCE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_]\w*)(?P<rest>[^}]*)\}")
SECRET_NAME = re.compile(r"SECRET|KEY|PASSWORD", re.IGNORECASE)
# Settings that say where a secret lives (a file, a path), not the secret itself.
SECRET_POINTER = re.compile(r"_(FILE|PATH)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def resolve_defaults(text: str) -> str:
    """Apply Compose's `${VAR:-default}` / `${VAR-default}` as if VAR were unset."""
    return ANY_REFERENCE.sub(
        lambda m: re.sub(r"^:?-", "", m["rest"]) if re.match(r"^:?-", m["rest"]) else m[0], text
    )


def mounts(service: dict) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of each volume, short or long syntax."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        source, target, *mode = resolve_defaults(volume).split(":")
        found.append((source, target, "ro" in (mode[0].split(",") if mode else [])))
    return found


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def mount_target(service: dict, source: str) -> str:
    targets = [target for src, target, _ in mounts(service) if src.rstrip("/") == source]
    assert len(targets) == 1, f"expected one mount of {source}, found {targets}"
    return targets[0]


def test_compose_file_parses_with_every_service(services):
    expected = {"postgres", *AIRFLOW_SERVICES, *CELERY_SERVICES}
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"


def test_every_airflow_service_runs_the_one_touchline_image(compose, services):
    images = {name: services[name].get("image") for name in AIRFLOW_SERVICES}
    assert len(set(images.values())) == 1 and None not in images.values(), images
    for name in AIRFLOW_SERVICES:
        build = services[name].get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context in (".", "./"), f"{name} must build the image from the repository root"
    assert DOCKERFILE.is_file()


def test_every_airflow_service_shares_the_common_environment_and_mounts(compose, services):
    common = compose["x-airflow-common"]
    common_env = environment(common)
    for key in (*SHARED_SECRETS, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        assert key in common_env, f"x-airflow-common must set {key}"
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        drifted = {k for k, v in common_env.items() if env.get(k) != v}
        assert not drifted, f"{name} drops or changes the common settings {sorted(drifted)}"
        assert mounts(services[name]) == mounts(common), f"{name} mounts differ from the common"


def test_airflow_services_use_the_airflow_3_components(services):
    core = [name for name in CORE_SERVICES if name != "airflow-init"]
    commands = {name: services[name].get("command") for name in core}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    executor = environment(services["airflow-scheduler"])["AIRFLOW__CORE__EXECUTOR"]
    assert resolve_defaults(executor) == "LocalExecutor", "the default stack is the LocalExecutor"


def test_metadata_db_url_points_at_the_postgres_service(services):
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    pg_env = environment(postgres)
    password_ref = REQUIRED_REFERENCE.match(pg_env["POSTGRES_PASSWORD"])
    assert password_ref, "POSTGRES_PASSWORD must come from the environment (.env)"
    for name in AIRFLOW_SERVICES:
        raw = environment(services[name])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        url = urlsplit(ANY_REFERENCE.sub(lambda m: f"__{m['name']}__", raw))
        assert url.scheme.split("+")[0] == "postgresql", f"{name}: {url.scheme}"
        assert url.hostname == "postgres", f"{name} connects to {url.hostname}, not postgres"
        assert url.port in (None, 5432)
        assert url.username == pg_env["POSTGRES_USER"]
        assert url.password == f"__{password_ref['name']}__", (
            f"{name}'s DB password must be the postgres service's ${{{password_ref['name']}}}"
        )
        assert url.path.lstrip("/") == pg_env["POSTGRES_DB"]


def test_services_start_in_order(services):
    assert services["postgres"].get("healthcheck", {}).get("test"), (
        "service_healthy on postgres needs a healthcheck"
    )
    assert services["airflow-init"].get("depends_on") == {
        "postgres": {"condition": "service_healthy"},
        # checked only when the celery profile is on (airflow-init then checks the broker)
        "redis": {"condition": "service_healthy", "required": False},
    }
    assert services["airflow-init"].get("restart", "no") == "no", "a one-shot must not restart"
    for name in LONG_RUNNING:
        depends = services[name].get("depends_on") or {}
        assert depends.get("postgres", {}).get("condition") == "service_healthy", name
        assert depends.get("airflow-init", {}).get("condition") == (
            "service_completed_successfully"
        ), name


def test_init_migrates_the_db_and_creates_the_writer_pool(services):
    command = services["airflow-init"]["command"]
    script = command if isinstance(command, str) else " ".join(command)
    assert "airflow db migrate" in script
    assert re.search(rf"airflow pools set {re.escape(WAREHOUSE_POOL)} 1\b", script), (
        f"airflow-init must create the {WAREHOUSE_POOL} pool with one slot"
    )
    assert "set -e" in script, "a failed step must fail the one-shot (and so block the stack)"


def test_bind_mounts_exist_in_the_repository_and_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, _target, _ in mounts(service):
            if is_bind(source):
                assert source.startswith("./"), f"{name}: bind {source} is not repo-relative"
                assert (REPO_ROOT / source).exists(), f"{name} mounts {source}: not in the repo"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared"


def test_project_code_is_mounted_read_only(services):
    for name in AIRFLOW_SERVICES:
        for source, target, read_only in mounts(services[name]):
            if source.rstrip("/") in ("./dags", "./dbt_project", "./expectations"):
                assert read_only, f"{name} mounts {source} writable at {target}"


def test_no_literal_secrets_in_the_compose_file(services):
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not SECRET_POINTER.search(key):
                assert REQUIRED_REFERENCE.match(value), (
                    f"{name}: {key} must be a ${{VAR}} reference without a default, not {value!r}"
                )


def test_shared_secrets_are_the_same_in_every_airflow_service(services):
    for key in SHARED_SECRETS:
        values = {environment(services[name]).get(key) for name in AIRFLOW_SERVICES}
        assert len(values) == 1 and None not in values, f"{key} differs: {values}"


def test_env_example_lists_every_required_variable():
    compose_text = COMPOSE_FILE.read_text(encoding="utf-8")
    required = {
        m["name"] for m in ANY_REFERENCE.finditer(compose_text) if not re.match(r"^:?-", m["rest"])
    }
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert required <= set(example), f"not in .env.example: {sorted(required - set(example))}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value.startswith("change-me"), f".env.example holds a real-looking {key}"


def test_dags_folder_is_where_the_dags_are_mounted(services):
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == mount_target(services[name], "./dags")
        assert env["TOUCHLINE_DBT_PROJECT_DIR"] == mount_target(services[name], "./dbt_project")
        assert env["TOUCHLINE_EXPECTATIONS_DIR"] == mount_target(services[name], "./expectations")


def test_touchline_data_paths_are_on_the_data_volume(services):
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        home = PurePosixPath(env["TOUCHLINE_HOME"])
        data_mounts = {PurePosixPath(t) for s, t, _ in mounts(services[name]) if not is_bind(s)}
        assert home in data_mounts, f"{name}: TOUCHLINE_HOME {home} is not a volume"
        for key in (
            "TOUCHLINE_SOURCE_DIR",
            "TOUCHLINE_LANDING_DIR",
            "TOUCHLINE_WAREHOUSE",
            "TOUCHLINE_OUTPUT_DIR",
        ):
            assert PurePosixPath(env[key]).is_relative_to(home), f"{name}: {key} off the volume"


def test_execution_api_url_points_at_the_apiserver(services):
    apiserver = services["airflow-apiserver"]
    container_ports = {str(p).split(":")[-1] for p in apiserver.get("ports", [])}
    for name in AIRFLOW_SERVICES:
        url = urlsplit(environment(services[name])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert url.hostname == "airflow-apiserver", f"{name}: tasks cannot reach {url.hostname}"
        assert str(url.port) in container_ports
        assert url.path.rstrip("/") == "/execution"


def test_apiserver_healthcheck_calls_airflows_health_endpoint(services):
    from airflow.api_fastapi.core_api.routes.public.monitor import monitor_router

    health_paths = {f"/api/v2{route.path}" for route in monitor_router.routes}
    test = services["airflow-apiserver"]["healthcheck"]["test"]
    url = urlsplit(next(part for part in test if str(part).startswith("http")))
    assert url.path in health_paths, f"{url.path} is not one of Airflow's {health_paths}"
    assert str(url.port) in {str(p).split(":")[-1] for p in services["airflow-apiserver"]["ports"]}


def test_dockerfile_builds_on_the_pinned_airflow_and_python():
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    pattern = r"^FROM\s+apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>[\d.]+)\s*$"
    match = re.search(pattern, dockerfile, re.MULTILINE)
    assert match, "the Dockerfile must start FROM apache/airflow:<version>-python<version>"
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert f"apache-airflow=={match['airflow']}" in project["dependencies"]
    constraints = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert f"apache-airflow=={match['airflow']}" in constraints
    assert Version(match["python"]) in SpecifierSet(project["requires-python"])


def test_dockerfile_copies_only_files_in_the_repository():
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY"):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"the Dockerfile copies missing {source}"


# -- the celery profile -------------------------------------------------------------------------


def script(service: dict) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(map(str, command))


def healthcheck_text(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return test if isinstance(test, str) else " ".join(map(str, test))


def test_the_celery_profile_holds_the_broker_the_workers_and_flower(services):
    for name in CELERY_SERVICES:
        assert services[name].get("profiles") == [CELERY_PROFILE], f"{name} not in the profile"
    outside = {name for name in services if name not in CELERY_SERVICES}
    in_profiles = {name for name in outside if services[name].get("profiles")}
    assert not in_profiles, f"the default stack must not need a profile: {sorted(in_profiles)}"


def test_the_executor_switches_with_one_variable_documented_beside_the_profile(compose):
    assert environment(compose["x-airflow-common"])["AIRFLOW__CORE__EXECUTOR"] == EXECUTOR_SETTING
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    header = COMPOSE_FILE.read_text(encoding="utf-8").split("x-airflow-common")[0]
    for text, where in ((example, ".env.example"), (header, "the compose file's header")):
        assert "TOUCHLINE_EXECUTOR=CeleryExecutor" in text, f"{where}: how to pick Celery"
        assert "COMPOSE_PROFILES=celery" in text or "--profile celery" in text, where


def test_init_refuses_an_executor_without_its_broker(services):
    init = script(services["airflow-init"])
    assert "AIRFLOW__CORE__EXECUTOR" in init and "CeleryExecutor" in init
    assert '("redis", 6379)' in init, "airflow-init must check the broker under Celery"
    assert init.index("CeleryExecutor") < init.index("airflow db migrate"), "check first"


def test_broker_and_result_backend_point_at_the_stacks_own_services(services):
    redis_ports = {str(p).split(":")[-1] for p in services["redis"].get("expose", [])}
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis", f"{name}: {broker}"
        assert str(broker.port or 6379) in (redis_ports or {"6379"})
        backend = urlsplit(
            ANY_REFERENCE.sub(r"__\g<name>__", env["AIRFLOW__CELERY__RESULT_BACKEND"])
        )
        metadata = urlsplit(
            ANY_REFERENCE.sub(r"__\g<name>__", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        )
        assert backend.scheme == "db+postgresql", f"{name}: result backend {backend.scheme}"
        same = ("hostname", "port", "username", "password", "path")
        drift = {part for part in same if getattr(backend, part) != getattr(metadata, part)}
        assert not drift, f"{name}: the result backend differs from the metadata DB in {drift}"


def test_workers_run_celery_and_scale(services):
    worker = services["airflow-worker"]
    command = script(worker)
    assert "exec airflow celery worker" in command
    assert "!= CeleryExecutor ]" in command and "exit 1" in command, "refuse another executor"
    assert "container_name" not in worker, "a fixed container name cannot be scaled"
    assert not worker.get("ports"), "a published port cannot be scaled"
    assert environment(worker).get("DUMB_INIT_SETSID") == "0", "warm shutdown for running tasks"
    assert script(services["airflow-flower"]) == "celery flower"


def test_workers_and_flower_mount_the_schedulers_data_and_logs(services):
    scheduler = services["airflow-scheduler"]
    home = environment(scheduler)["TOUCHLINE_HOME"]
    data = {t: s for s, t, _ in mounts(scheduler)}
    for name in ("airflow-worker", "airflow-flower"):
        theirs = {t: s for s, t, _ in mounts(services[name])}
        assert theirs[home] == data[home], f"{name} does not mount the scheduler's data volume"
        assert theirs["/opt/airflow/logs"] == data["/opt/airflow/logs"], f"{name}: task logs"
        assert (
            environment(services[name])["TOUCHLINE_WAREHOUSE"]
            == (environment(scheduler)["TOUCHLINE_WAREHOUSE"])
        )


def test_celery_services_start_after_the_broker(services):
    for name in ("airflow-worker", "airflow-flower"):
        depends = services[name]["depends_on"]
        assert depends["redis"] == {"condition": "service_healthy"}, name
        assert depends["postgres"]["condition"] == "service_healthy", name
    for name in CORE_SERVICES:
        redis = services[name]["depends_on"]["redis"]
        assert redis == {"condition": "service_healthy", "required": False}, (
            f"{name} must wait for the broker when the celery profile is on, and only then"
        )


def test_every_celery_service_has_a_healthcheck_that_asks_it(services):
    import importlib

    from flower.urls import handlers

    for name in CELERY_SERVICES:
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and check.get("interval"), f"{name} has no healthcheck"
    assert "redis-cli ping" in healthcheck_text(services["redis"])
    worker_check = healthcheck_text(services["airflow-worker"])
    app = re.search(r"--app (?P<module>[\w.]+)\.(?P<attr>\w+) inspect ping", worker_check)
    assert app, worker_check
    assert getattr(importlib.import_module(app["module"]), app["attr"]) is not None
    assert "celery@$${HOSTNAME}" in worker_check, "ping this container's own worker"
    flower = services["airflow-flower"]
    url = urlsplit(next(p for p in healthcheck_text(flower).split() if p.startswith("http")))
    served = {h.regex.pattern.rstrip("$") if hasattr(h, "regex") else h[0] for h in handlers}
    served.discard(".*")  # Flower's page for anything it does not serve
    assert any(re.fullmatch(p, url.path) for p in served), f"Flower serves no {url.path}"
    assert str(url.port) in {str(p).split(":")[-1] for p in flower["ports"]}


def test_flower_is_published_on_this_host_only(services):
    for port in services["airflow-flower"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), (
            f"Flower must not listen on every address: {port}"
        )


def compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_client_accepts_the_file():
    command = compose_command()
    if command is None:
        pytest.skip("no Compose client installed (docker compose or docker-compose)")
    completed = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 0, completed.stderr
