"""The monitoring files under deploy/: the Grafana dashboard and the Prometheus alert rules name
only metrics, labels, label values and jobs that the code and the scrape configs really have;
promtool parses every expression, proves each alert fires (and when it must not), and checks
the compose scrape config. Debian's promtool is built without Kubernetes discovery, so the
Kubernetes scrape config is checked against the manifests instead."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import Metrics
from harness.paths import REPO
from harness.service import running_redis, store_for
from shared.celery_app import ANALYZE_QUEUE, CALLBACK_QUEUE
from shared.job_states import FailureCode
from shared.settings import Settings
from shared.store import Job
from worker import events
from worker.metrics import ANALYSIS_OUTCOMES, STAGES, CallbackOutcome, worker_metrics

DASHBOARD = REPO / "deploy" / "grafana" / "readface.json"
PROMETHEUS = REPO / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
K8S = REPO / "deploy" / "k8s"
JOBS = {"readface-api", "readface-worker", "readface-callbacks"}
# Labels Prometheus adds to every scraped sample, and the one metric it makes itself.
TARGET_LABELS = {"job", "instance", "pod"}
BUILTIN = {"up": set[str]()}
# The label values an expression may match, per (metric family, label).
KNOWN_VALUES = {
    ("readface_worker_analyses", "outcome"): set(ANALYSIS_OUTCOMES),
    ("readface_worker_callback_deliveries", "outcome"): {
        outcome.value for outcome in CallbackOutcome
    },
    ("readface_worker_stage_seconds", "stage"): set(STAGES),
    ("readface_queue_depth", "queue"): {ANALYZE_QUEUE, CALLBACK_QUEUE},
    ("up", "job"): JOBS,
}
SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
# Grafana's interval variables, as a rule file needs them.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}

Exported = dict[str, set[str]]


def samples_of(text: str) -> Exported:
    """Sample names and their label names; without `_created`, which a worker (multiprocess
    mode) does not export."""
    found: Exported = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                found.setdefault(sample.name, set()).update(sample.labels)
    return found


@pytest.fixture(scope="module")
def exported() -> Iterator[Exported]:
    """Every sample name the code exports, with its label names: a worker's after one of each
    thing it records, through worker/events.py as a worker does, and the API's /metrics as
    it renders them from a real Redis."""
    job = Job.from_hash("0" * 64, {b"status": b"running", b"created_at": b"2026-01-01T00:00:00Z"})
    assert job is not None
    events.analysis_started(job, "t", datetime.now(UTC))
    result = {"faces": [{}], "timings_ms": {**dict.fromkeys(STAGES, 1.0), "total": 5.0}}
    events.analysis_ended(job.id, "t", True, None, result)
    events.analysis_ended(job.id, "t", True, (FailureCode.INTERNAL, "x"), None)
    events.callback_attempt(
        job.id, "t", "msg_1", 1, CallbackOutcome.DELIVERED, "https://h/x", "HTTP 200"
    )
    events.models_loaded("default", "openvino", 1.0)
    found = samples_of(generate_latest(worker_metrics().registry).decode())
    with running_redis() as server:
        metrics = Metrics(Settings(redis_url=server.url))
        metrics.observe("GET", "/healthz", 200, 0.001)
        found |= samples_of(metrics.render(store_for(server.url)).decode())
    yield found | BUILTIN


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]


def metrics_in(expr: str) -> set[str]:
    """The metric names of an expression: every selector's, and every readface_ name."""
    named = {name for name, _ in SELECTOR.findall(expr)}
    return named | set(re.findall(r"\breadface_\w+", expr))


def family(sample: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", sample)


def check_expression(expr: str, exported: Exported) -> None:
    metrics = metrics_in(expr)
    assert metrics, f"no metric in {expr}"
    unknown = metrics - exported.keys()
    assert not unknown, f"{expr}: {unknown} are not exported"
    labels = set().union(*(exported[m] for m in metrics)) | TARGET_LABELS
    for name, matchers in SELECTOR.findall(expr):
        for label, operator, wanted in MATCHER.findall(matchers):
            assert label in exported[name] | TARGET_LABELS, f"{expr}: {name} has no {label}"
            known = KNOWN_VALUES.get((family(name), label))
            if known and operator in ("=", "=~"):
                assert set(wanted.split("|")) <= known, f"{expr}: {label}={wanted}"
    for grouping in GROUPING.findall(expr):
        used = {label.strip() for label in grouping.split(",") if label.strip()}
        assert used <= labels, f"{expr}: grouped by {used - labels}, which no metric has"


def test_each_dashboard_expression_names_exported_metrics_and_labels(exported: Exported) -> None:
    for expr in dashboard_exprs():
        check_expression(expr, exported)


def test_each_alert_expression_names_exported_metrics_and_labels(exported: Exported) -> None:
    for rule in alert_rules():
        check_expression(rule["expr"], exported)


def test_the_dashboard_shows_every_metric_a_worker_exports(exported: Exported) -> None:
    shown = {family(m) for expr in dashboard_exprs() for m in metrics_in(expr)}
    workers = {family(name) for name in exported if name.startswith("readface_worker_")}
    assert workers <= shown, workers - shown


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    board = dashboard()
    assert board["title"] and 0 < len(board["uid"]) <= 40
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 30
    [variable] = board["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    panels = board["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in ("stat", "timeseries") and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        targets = panel["targets"]
        assert targets and len({t["refId"] for t in targets}) == len(targets)
        assert all(t["expr"].strip() and t["datasource"] == panel["datasource"] for t in targets)


DURATION = re.compile(r"^\d+[smhd]$")


def test_alert_rules_have_the_structure_prometheus_and_alertmanager_expect() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names)
    assert {"ReadfaceQueueGrowing", "ReadfaceAnalysisFailureRate", "ReadfaceNoLiveWorker"} <= set(
        names
    )
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert DURATION.match(rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_scrape_configs_have_the_jobs_the_rules_and_the_dashboard_use() -> None:
    used = set(re.findall(r'job="([^"]+)"', DASHBOARD.read_text() + ALERTS.read_text()))
    for config in ("prometheus.yml", "prometheus-k8s.yml"):
        loaded = yaml.safe_load((PROMETHEUS / config).read_text())
        assert {job["job_name"] for job in loaded["scrape_configs"]} == JOBS, config
        assert loaded["rule_files"] == ["alerts.yml"]
    assert used <= JOBS


def test_the_compose_scrape_config_reaches_the_services_metrics() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["readface-api"]["static_configs"] == [{"targets": ["api:8000"]}]
    for name, service in (("readface-worker", "worker"), ("readface-callbacks", "callbacks")):
        [discovery] = jobs[name]["dns_sd_configs"]
        assert discovery["names"] == [service]
        environment = services[service]["environment"]
        assert environment["READFACE_WORKER_METRICS_BIND"] == f"0.0.0.0:{discovery['port']}"
        assert environment["PROMETHEUS_MULTIPROC_DIR"]
    monitoring = services["prometheus"]
    assert monitoring["profiles"] == ["monitoring"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in monitoring["volumes"]


def test_the_kubernetes_scrape_config_finds_each_deployments_port() -> None:
    deployments = {
        doc["metadata"]["name"]: doc["spec"]["template"]
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "Deployment"
    }
    config = yaml.safe_load((PROMETHEUS / "prometheus-k8s.yml").read_text())
    for job in config["scrape_configs"]:
        keep = {
            rule["source_labels"][0]: rule["regex"]
            for rule in job["relabel_configs"]
            if rule.get("action") == "keep"
        }
        app = keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        template = deployments[app]
        assert template["metadata"]["labels"]["app.kubernetes.io/name"] == app
        [container] = template["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        port_name = keep["__meta_kubernetes_pod_container_port_name"]
        assert port_name in ports, f"{app} has no port named {port_name}"
        if port_name == "metrics":
            env = {item["name"]: item.get("value") for item in container["env"]}
            assert env["READFACE_WORKER_METRICS_BIND"] == f"0.0.0.0:{ports['metrics']}"
            assert env["PROMETHEUS_MULTIPROC_DIR"]


def promtool(*args: str, cwd: Path = PROMETHEUS) -> None:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is missing: scripts/system-deps.sh installs Debian's prometheus")
    run = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_accepts_the_alert_rules() -> None:
    promtool("check", "rules", "alerts.yml")


def test_promtool_proves_each_alert_fires_when_it_should_and_only_then() -> None:
    promtool("test", "rules", "alerts_test.yml")


def test_promtool_accepts_the_compose_scrape_config() -> None:
    promtool("check", "config", "prometheus.yml")


def test_promtool_parses_every_dashboard_expression(tmp_path: Path) -> None:
    """Each expression as a recording rule, with Grafana's interval variables filled in."""
    rules = []
    for number, expr in enumerate(dashboard_exprs()):
        for variable, duration in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, duration)
        rules.append({"record": f"dashboard:expression_{number}", "expr": expr})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    promtool("check", "rules", str(path), cwd=tmp_path)
