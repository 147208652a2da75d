"""deploy/k8s, validated offline: every object against the Kubernetes schema of a pinned version
(kubernetes-validate, strict: an unknown or misspelt field fails), then against the project itself:
the queues the settings define, the environment variables they read, the image and its user, the
health view, the compose services the pods mirror.

No cluster and no network. The example overlay (base + its Secret, host names and Ingress) is
read as kustomize would (tests/deploy/k8s.py); where kubectl is installed, its own rendering is
validated too.
"""

import ast
import copy
import inspect
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import django.conf
import gunicorn.config
import kubernetes_validate
import pytest
import yaml
from django.urls import reverse

from config.settings.integrations.celery import (
    CELERY_BEAT_SCHEDULER,
    CELERY_TASK_DEFAULT_QUEUE,
    CELERY_TASK_QUEUES,
    CELERY_TASK_ROUTES,
)
from marketplace.api.health import HealthView
from tests.deploy.k8s import BASE, K8S, OVERLAY, ROOT, build, containers, option, pod_template, selects, workloads

# The oldest Kubernetes these manifests promise to run on (autoscaling/v2, policy/v1 and the
# PDB's unhealthyPodEvictionPolicy are all there). Validating against the oldest catches a field
# that only newer clusters know.
KUBERNETES_VERSION = "1.30.0"
IMAGE = "expo-marketplace"
SITE = build(OVERLAY)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
# Read by the processes rather than by config/settings/env.py, each by the module named.
PROCESS_VARIABLES = {"DJANGO_SETTINGS_MODULE": django.conf, "PORT": gunicorn.config, "WEB_CONCURRENCY": gunicorn.config}


def settings_variables() -> set[str]:
    """Every variable config/settings/env.py reads: env.<type>("NAME", ...)."""
    tree = ast.parse((ROOT / "config" / "settings" / "env.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "env"
        and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
    }


def celery_queues() -> set[str]:
    """Every queue a task can land on: the declared ones, the default, and every route's target."""
    return ({queue.name for queue in CELERY_TASK_QUEUES} | {CELERY_TASK_DEFAULT_QUEUE}
            | {route["queue"] for route in CELERY_TASK_ROUTES.values()})


def worker_deployments() -> list[dict]:
    return [doc for doc in SITE.of_kind("Deployment")
            if any(c["command"][:4] == ["celery", "-A", "config", "worker"] for c in containers(doc, init=False))]


def main_container(workload: dict) -> dict:
    (container,) = containers(workload, init=False)
    return container


def dockerfile_ids() -> tuple[int, int]:
    text = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd [^\n]*--uid (\d+)", text)
    gid = re.search(r"groupadd [^\n]*--gid (\d+)", text)
    assert uid and gid, "the Dockerfile's app user was not found"
    return int(uid.group(1)), int(gid.group(1))


def site_config() -> dict[str, str]:
    return SITE.config_maps["expo-config"]


# --- files and schema -------------------------------------------------------------------------


def test_the_kustomizations_list_every_manifest_and_name_only_existing_files():
    for directory in (BASE, OVERLAY):
        present = {p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".env") and p.name != "kustomization.yaml"}
        named = {p for p in SITE.files if p.parent == directory}
        assert present == named, f"{directory}: listed {sorted(named)}, present {sorted(present)}"
    assert all(path.exists() for path in SITE.files)


def test_the_example_overlay_has_every_kind_of_object():
    kinds = {doc["kind"] for doc in SITE.all_documents()}

    assert kinds >= {"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "Job", "Ingress"}


@pytest.mark.parametrize("doc", SITE.all_documents(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_every_object_validates_against_the_kubernetes_schema(doc):
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == "1.30"


def test_the_validator_rejects_unknown_fields_and_wrong_types():
    # given: a negative control, so the passing test above means something
    web = SITE.named("Deployment", "expo-web")
    misspelt = copy.deepcopy(web)
    misspelt["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {"tcpSocket": {"port": 8000}}
    wrong_type = copy.deepcopy(web)
    wrong_type["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "45"

    # then
    for doc in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (the checks above do not need it)")
def test_kubectl_renders_the_overlay_into_valid_objects_with_resolved_references():
    # when
    result = subprocess.run(["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60)

    # then
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert len(rendered) == len(SITE.all_documents())
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered}
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "expo"
        if doc["kind"] in ("Deployment", "Job"):
            for container in containers(doc):
                assert container["image"] == "registry.example.com/expo-marketplace:0.1.0"
                for source in container["envFrom"]:
                    kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
                    assert (kind, ref["name"]) in names  # the generators' hashed names


# --- references between objects ---------------------------------------------------------------


def test_every_env_source_names_a_configmap_or_secret_that_exists():
    config_maps = set(SITE.config_maps) | {doc["metadata"]["name"] for doc in SITE.of_kind("ConfigMap")}
    secrets = set(SITE.secrets) | {doc["metadata"]["name"] for doc in SITE.of_kind("Secret")}

    for workload in workloads(SITE):
        for container in containers(workload):
            assert container["envFrom"], container["name"]
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps
                else:
                    assert source["secretRef"]["name"] in secrets
            for variable in container.get("env", []):
                assert "valueFrom" not in variable or "fieldRef" in variable["valueFrom"], variable


def test_every_variable_a_command_expands_is_set_in_its_container():
    for workload in workloads(SITE):
        for container in containers(workload):
            available = {variable["name"] for variable in container.get("env", [])}
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    available |= set(SITE.config_maps[source["configMapRef"]["name"]])
                else:
                    available |= set(SITE.secrets[source["secretRef"]["name"]])
            for name in re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", " ".join(container["command"])):
                assert name in available, f"{workload['metadata']['name']}: $({name}) is not set"


def test_the_hpa_scales_the_web_deployment_on_cpu():
    (hpa,) = SITE.of_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    web = SITE.named("Deployment", target["name"])

    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "expo-web")
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    # utilisation is a share of the request; and `replicas` would reset the HPA at every apply
    assert main_container(web)["resources"]["requests"]["cpu"]
    assert "replicas" not in web["spec"]


def test_each_disruption_budget_covers_the_pods_of_exactly_one_deployment():
    budgets = SITE.of_kind("PodDisruptionBudget")
    covered = []
    for budget in budgets:
        matching = [d["metadata"]["name"] for d in SITE.of_kind("Deployment")
                    if selects(budget["spec"]["selector"], pod_template(d)["metadata"]["labels"])]
        assert len(matching) == 1, (budget["metadata"]["name"], matching)
        covered += matching
        # never 0: a budget that allows no disruption blocks every node drain
        assert budget["spec"].get("maxUnavailable", 1) >= 1
    assert "expo-web" in covered
    assert {d["metadata"]["name"] for d in worker_deployments()} <= set(covered)
    assert "expo-beat" not in covered  # a singleton: a budget would only block drains


def test_each_deployment_selects_its_own_pods_only():
    deployments = SITE.of_kind("Deployment")
    for deployment in deployments:
        assert selects(deployment["spec"]["selector"], pod_template(deployment)["metadata"]["labels"])
        others = [d for d in deployments if d is not deployment]
        assert not any(selects(deployment["spec"]["selector"], pod_template(d)["metadata"]["labels"]) for d in others)
        for constraint in pod_template(deployment)["spec"].get("topologySpreadConstraints", []):
            assert constraint["labelSelector"] == deployment["spec"]["selector"]  # spreads its own pods


def test_the_service_and_the_ingress_reach_the_web_pods():
    web = SITE.named("Deployment", "expo-web")
    service = SITE.named("Service", "expo-web")
    ports = {port["name"]: port for port in main_container(web)["ports"]}

    assert selects({"matchLabels": service["spec"]["selector"]}, pod_template(web)["metadata"]["labels"])
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports
    (ingress,) = SITE.of_kind("Ingress")
    service_ports = {port["name"] for port in service["spec"]["ports"]}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "expo-web"
            assert backend["port"]["name"] in service_ports


# --- the project: compose, settings, health, queues -------------------------------------------


def test_web_runs_the_compose_web_command_on_the_port_gunicorn_reads():
    web = main_container(SITE.named("Deployment", "expo-web"))
    env = {variable["name"]: variable["value"] for variable in web["env"]}

    assert web["command"] == COMPOSE["web"]["command"] and "--no-control-socket" in web["command"]
    assert web["ports"][0]["containerPort"] == int(env["PORT"])
    assert int(env["WEB_CONCURRENCY"]) >= 2


def test_web_readiness_asks_the_health_view_with_a_host_the_settings_allow():
    web = main_container(SITE.named("Deployment", "expo-web"))
    probe = web["readinessProbe"]["httpGet"]
    headers = {header["name"]: header["value"] for header in probe["httpHeaders"]}
    production = ast.parse((ROOT / "config" / "settings" / "production.py").read_text())
    (exempt,) = [ast.literal_eval(node.value) for node in production.body
                 if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SECURE_REDIRECT_EXEMPT" for t in node.targets)]

    assert probe["path"] == reverse("health") == "/health/"
    assert probe["port"] in {port["name"] for port in web["ports"]}
    # Django answers 400 to a Host outside ALLOWED_HOSTS, and the kubelet would send the pod's IP
    assert headers["Host"] in site_config()["DJANGO_ALLOWED_HOSTS"].split(",")
    # the probe speaks plain HTTP: production must not redirect it to https
    assert any(re.search(pattern, probe["path"].lstrip("/")) for pattern in exempt)
    assert web["readinessProbe"]["timeoutSeconds"] > 1  # the view waits up to 1 s for a Celery ping


def test_web_liveness_does_not_depend_on_the_database_redis_or_workers():
    web = main_container(SITE.named("Deployment", "expo-web"))
    liveness = web["livenessProbe"]

    # /health/ fails with any of them; restarting web pods would not bring them back
    assert "httpGet" not in liveness
    assert liveness["tcpSocket"]["port"] in {port["name"] for port in web["ports"]}


def test_every_celery_queue_is_consumed_by_exactly_one_worker_deployment():
    queues = celery_queues()
    consumed: dict[str, list[str]] = {}
    for deployment in worker_deployments():
        value = option(main_container(deployment)["command"], "-Q", "--queues")
        assert value, f"{deployment['metadata']['name']} names no queue: it would consume only 'celery'"
        for queue in value.split(","):
            consumed.setdefault(queue, []).append(deployment["metadata"]["name"])

    assert queues == {"default", "fulfilment", "notifications", "webhooks"}  # today's; derived above
    assert set(consumed) == queues  # no queue without a consumer, no consumer of an unknown queue
    assert all(len(names) == 1 for names in consumed.values()), consumed


def test_worker_groups_fit_the_health_check():
    """/health/ pings with a limit and then requires the workers that answered to consume every
    queue: with a limit, any single worker must consume them all, or web pods never turn ready."""
    checks = dict(HealthView().get_checks())
    limit = checks["celery"].limit

    if limit is not None:
        for deployment in worker_deployments():
            queues = set((option(main_container(deployment)["command"], "-Q", "--queues") or "").split(","))
            assert queues == celery_queues(), (
                f"{deployment['metadata']['name']} consumes {sorted(queues)} only, but /health/ accepts the first "
                f"{limit} worker(s) to answer only if they consume every queue (marketplace/api/health.py)")
    for deployment in worker_deployments():
        assert deployment["spec"]["replicas"] >= 2  # /health/ needs one worker while another restarts


def test_workers_are_probed_with_a_ping_to_their_own_node():
    for deployment in worker_deployments():
        worker = main_container(deployment)
        probe = worker["livenessProbe"]["exec"]["command"]

        assert worker["command"][:4] == COMPOSE["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
        # the node is celery@<hostname> (no -n), and the pod's hostname is $HOSTNAME: a shell expands it
        assert option(worker["command"], "-n", "--hostname") is None
        assert probe[:2] == ["sh", "-c"]
        assert "celery -A config inspect ping --destination celery@$HOSTNAME" in probe[2]
        timeout = re.search(r"--timeout (\d+)", probe[2])
        assert timeout, "the ping needs its own --timeout, shorter than the probe's"
        assert worker["livenessProbe"]["timeoutSeconds"] > int(timeout.group(1))
        assert pod_template(deployment)["spec"]["terminationGracePeriodSeconds"] >= 60  # running tasks finish


def test_beat_is_a_singleton_on_the_database_scheduler():
    beat = SITE.named("Deployment", "expo-beat")
    command = main_container(beat)["command"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}  # the old one stops before the new starts
    assert command[:4] == ["celery", "-A", "config", "beat"]
    assert option(command, "--scheduler", "-S") == CELERY_BEAT_SCHEDULER
    assert all(hpa["spec"]["scaleTargetRef"]["name"] != "expo-beat" for hpa in SITE.of_kind("HorizontalPodAutoscaler"))


def test_migrations_run_in_a_job_and_app_pods_wait_for_them():
    (job,) = SITE.of_kind("Job")
    migrate = main_container(job)

    assert migrate["command"] == COMPOSE["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert pod_template(job)["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    for deployment in SITE.of_kind("Deployment"):
        (gate,) = pod_template(deployment)["spec"]["initContainers"]
        app = main_container(deployment)
        # `migrate --check` exits non-zero while this image has unapplied migrations
        assert "until python manage.py migrate --check;" in gate["command"][-1]
        assert (gate["image"], gate["envFrom"]) == (app["image"], app["envFrom"])


def test_every_app_container_runs_the_one_image_that_compose_builds():
    compose_image = re.fullmatch(r"\$\{APP_IMAGE:-([^:}]+):[^}]+\}", COMPOSE["web"]["image"])

    assert compose_image and compose_image.group(1) == IMAGE
    for workload in workloads(SITE):
        assert {container["image"] for container in containers(workload)} == {IMAGE}
    assert [image["name"] for image in SITE.images] == [IMAGE]  # the overlay points it at a registry


def test_config_and_secret_hold_only_variables_the_project_reads():
    read = settings_variables()
    keys = set().union(*SITE.config_maps.values(), *SITE.secrets.values())
    keys |= {variable["name"] for workload in workloads(SITE) for c in containers(workload) for variable in c.get("env", [])}

    assert read >= {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY"}  # the parse found them
    for name, module in PROCESS_VARIABLES.items():
        assert name in inspect.getsource(module), f"{module.__name__} does not read {name}"
    assert keys - read - set(PROCESS_VARIABLES) == set()


# --- security and configuration ---------------------------------------------------------------


def test_pods_run_as_the_image_user_with_a_read_only_root_and_no_privileges():
    uid, gid = dockerfile_ids()
    for workload in workloads(SITE):
        spec = pod_template(workload)["spec"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}

        assert spec["securityContext"]["runAsNonRoot"] is True
        # the image's own user: celery warns (and refuses pickle) for a uid without a passwd entry
        assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (uid, gid)
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        for container in containers(workload):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            # the one writable place: /tmp on an emptyDir (uploads, imports); nothing at DATA_DIR
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert set(mounts) == {"/tmp"}
            assert "emptyDir" in volumes[mounts["/tmp"]]
            assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]


def test_files_go_to_s3_since_pods_share_no_disk():
    # Without S3_BUCKET, uploads would go to DATA_DIR: read-only here, and never shared between pods.
    assert site_config()["S3_BUCKET"]
    assert "S3_BUCKET" not in SITE.secrets["expo-secrets"]


def test_the_site_settings_agree_with_the_public_address():
    config = site_config()
    public = urlsplit(config["PUBLIC_BASE_URL"])
    (ingress,) = SITE.of_kind("Ingress")

    assert config["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert public.scheme == "https"
    assert public.hostname in config["DJANGO_ALLOWED_HOSTS"].split(",")
    assert f"https://{public.netloc}" in config["DJANGO_CSRF_TRUSTED_ORIGINS"].split(",")
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [public.hostname]
    assert public.hostname in ingress["spec"]["tls"][0]["hosts"]
    assert int(config["TRUSTED_PROXY_COUNT"]) >= 1  # behind the ingress
    assert config["PAYMENTS_ALLOW_SIMULATED"] == "false"


def test_the_example_secret_is_placeholders_that_cannot_start():
    secret = SITE.secrets["expo-secrets"]

    # what production settings refuse to start without
    assert {"DJANGO_SECRET_KEY", "FULFILMENT_SIGNING_KEY", "DATABASE_URL", "REDIS_URL",
            "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"} <= set(secret)
    assert all("CHANGE-ME" in value for value in secret.values() if value), secret
    # shorter than the 50 characters production demands: applied as is, the pods refuse to start
    assert len(secret["DJANGO_SECRET_KEY"]) < 50
    # and no secret sits in the ConfigMap
    assert not set(secret) & set(site_config())
    assert "overlays/*/secrets.env" in (K8S / ".gitignore").read_text().split()
