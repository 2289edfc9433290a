"""The Kubernetes manifests, the base and the Sentinel variant: valid against their schemas, and
wired as the service needs (KEDA scaling the worker on the analyze queue, clients on the
sentinels)."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import yaml

from harness.paths import REPO
from shared.celery_app import ANALYZE_QUEUE
from tests.deploy.checks import assert_names_the_sentinels, assert_shell_parses

K8S = REPO / "deploy" / "k8s"
SENTINEL_K8S = K8S / "sentinel"


def k8s_documents() -> list[dict]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


# KEDA's ScaledObject is a custom resource, absent from Kubernetes' own schemas: the fields we
# use, as KEDA's CRD (keda.sh/v1alpha1) declares them.
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"]},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_kubernetes_manifests_validate_against_their_schemas() -> None:
    kinds = []
    for doc in k8s_documents():
        kinds.append(doc["kind"])
        if doc["kind"] == "ScaledObject":
            jsonschema.validate(doc, SCALED_OBJECT_SCHEMA)
        else:
            kubernetes_validate.validate(doc, "1.30", strict=True)
    assert {"Deployment", "Service", "ScaledObject"} <= set(kinds)


def test_keda_scales_the_worker_deployment_on_the_analyze_queue() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in k8s_documents()}
    scaled = docs[("ScaledObject", "readface-worker")]
    assert ("Deployment", scaled["spec"]["scaleTargetRef"]["name"]) in docs
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == ANALYZE_QUEUE
    worker = docs[("Deployment", "readface-worker")]["spec"]["template"]["spec"]
    # the models are in the image: the one volume is the blobs', shared with the API
    assert worker["volumes"] == [
        {"name": "blobs", "persistentVolumeClaim": {"claimName": "readface-blobs"}}
    ]
    [mount] = worker["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == "/var/lib/readface/blobs"
    claim = docs[("PersistentVolumeClaim", "readface-blobs")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def sentinel_k8s_documents() -> dict[tuple[str, str], dict]:
    return {
        (doc["kind"], doc["metadata"]["name"]): doc
        for path in sorted(SENTINEL_K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }


def test_sentinel_kubernetes_variant_validates_against_its_schemas() -> None:
    for (kind, _), doc in sentinel_k8s_documents().items():
        if kind == "ScaledObject":
            jsonschema.validate(doc, SCALED_OBJECT_SCHEMA)
        else:
            kubernetes_validate.validate(doc, "1.30", strict=True)


def test_sentinel_kubernetes_variant_points_readface_and_keda_at_the_sentinels() -> None:
    docs = sentinel_k8s_documents()
    config = docs[("ConfigMap", "readface-config")]["data"]
    base = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "ConfigMap"}
    assert set(base["readface-config"]["data"]) <= set(config)  # it replaces the base one
    assert_names_the_sentinels(config["READFACE_REDIS_URL"], {"readface-sentinel"}, "readface")
    assert config["READFACE_REDIS_ACK_REPLICAS"] == "1"
    service = docs[("Service", "readface-sentinel")]
    assert [p["port"] for p in service["spec"]["ports"]] == [26379]
    assert docs[("StatefulSet", "readface-sentinel")]["spec"]["replicas"] == 3
    # a primary and two replicas: after one failover the new primary still has a replica
    assert docs[("StatefulSet", "readface-redis")]["spec"]["replicas"] == 3
    scripts = docs[("ConfigMap", "readface-redis-scripts")]["data"]
    assert "sentinel monitor readface $master 6379 2" in scripts["start-sentinel.sh"]
    for script in scripts.values():
        assert_shell_parses(script)
    [trigger] = docs[("ScaledObject", "readface-worker")]["spec"]["triggers"]
    assert trigger["type"] == "redis-sentinel"
    assert trigger["metadata"]["sentinelMaster"] == "readface"
    assert trigger["metadata"]["addresses"] == "readface-sentinel:26379"
    assert trigger["metadata"]["listName"] == ANALYZE_QUEUE
