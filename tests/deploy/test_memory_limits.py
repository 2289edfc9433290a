"""The worker pod's memory limit leaves room for every analysis process's own ceiling."""

from __future__ import annotations

import yaml

from harness.paths import REPO
from shared.settings import Settings

K8S = REPO / "deploy" / "k8s"
# Celery's main process loads no model but imports the worker's modules (149 MB resident here).
MAIN_PROCESS_MIB = 200


def mebibytes(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


def test_worker_pod_limit_covers_the_analysis_processes_ceilings() -> None:
    config = yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]
    concurrency = int(config["READFACE_WORKER_CONCURRENCY"])
    ceiling_mb = int(config.get("READFACE_WORKER_MEMORY_MB", Settings().worker_memory_mb))
    deployment = yaml.safe_load((K8S / "worker.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    limit = mebibytes(container["resources"]["limits"]["memory"])
    needed = concurrency * ceiling_mb * 1_000_000 // 2**20 + MAIN_PROCESS_MIB
    assert limit >= needed, f"pod limit {limit} MiB < {needed} MiB its processes may use"
