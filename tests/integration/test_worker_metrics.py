"""Worker metrics scraped from a real prefork worker after real analyses, and the job event
lines the API and the worker log, over real HTTP with a tenant's key."""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cli.processes import free_port, start_api, start_worker, stop
from harness.images import astronaut_grid, astronaut_jpeg, encode, slow_png
from harness.receivers import Receiver
from harness.service import (
    Api,
    child_pids,
    poll,
    running_redis,
    service_env,
)
from worker.metrics import STAGES

pytestmark = pytest.mark.integration

TENANT, KEY = "alice", "alice-key-Mx4Tq8Wn2Rb6"
POOL_PROCESSES = 2
MODEL_LOADS = "readface_worker_model_load_seconds_count"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Stack:
    api: Api
    metrics_url: str
    worker_pid: int
    api_log: Path
    worker_log: Path

    def scrape(self) -> Samples:
        text = requests.get(self.metrics_url, timeout=10).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    """A sample summed over all its label values."""
    return sum(v for (n, _), v in samples.items() if n == name)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, a prefork worker of two processes serving its metrics, and the API with keys on;
    the worker's and the API's output in files."""
    folder = tmp_path_factory.mktemp("monitoring")
    with running_redis() as redis_server:
        env = service_env(
            redis_server.url,
            READFACE_API_KEYS=f"{TENANT}:{KEY}",
            READFACE_CALLBACK_ALLOW_PRIVATE="1",
            READFACE_CALLBACK_BACKOFF="0.2",
            READFACE_LOG_FORMAT="json",
        )
        metrics_port, api_port = free_port(), free_port()
        worker_env = {
            **env,
            "READFACE_WORKER_METRICS_BIND": f"127.0.0.1:{metrics_port}",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        }
        worker_log, api_log = folder / "worker.log", folder / "api.log"
        with worker_log.open("wb") as worker_sink, api_log.open("wb") as api_sink:
            worker = start_worker(
                worker_env, POOL_PROCESSES, name=f"metrics{metrics_port}", log=worker_sink
            )
            api_process = start_api(env, "127.0.0.1", api_port, log=api_sink)
            try:
                api = Api(f"http://127.0.0.1:{api_port}", api_process)
                api.session.headers["X-API-Key"] = KEY
                poll(lambda: _ready(api), 90, "the API and a worker to be ready", every=0.2)
                stack = Stack(
                    api, f"http://127.0.0.1:{metrics_port}/metrics", worker.pid, api_log, worker_log
                )
                poll(
                    lambda: total(stack.scrape(), MODEL_LOADS) == POOL_PROCESSES,
                    90,
                    "both pool processes to load the models",
                    every=0.2,
                )
                yield stack
            finally:
                stop(api_process)
                stop(worker)


def _ready(api: Api) -> bool:
    try:
        return api.get("/readyz").status_code == 200
    except requests.ConnectionError:
        return False


def test_a_scrape_counts_real_analyses_by_outcome_stage_and_faces(stack: Stack) -> None:
    before = stack.scrape()
    portraits = [astronaut_jpeg(quality=q) for q in (71, 72, 73)]
    group = encode(astronaut_grid(2, 2), "JPEG", quality=90)
    broken = astronaut_jpeg(quality=74)[:6000]  # a readable header, a truncated scan
    receiver = Receiver([500])  # the first delivery fails, the second succeeds
    try:
        ids = [stack.api.submit(data).json()["id"] for data in [*portraits[1:], group, broken]]
        ids.append(stack.api.submit(portraits[0], callback_url=receiver.url).json()["id"])
        ended = [stack.api.wait_done(analysis_id) for analysis_id in ids]
        poll(lambda: len(receiver.deliveries) >= 2, 60, "the callback's second attempt")
    finally:
        receiver.server.shutdown()
    results = [analysis["result"] for analysis in ended if analysis["status"] == "succeeded"]
    assert len(results) == 4
    after = poll(
        lambda: (
            (s := stack.scrape())
            and value(
                s, "readface_worker_callback_deliveries_total", outcome="delivered", attempt="2"
            )
            and s
        ),
        30,
        "the delivered attempt to be counted",
    )
    assert isinstance(after, dict)

    analyses = "readface_worker_analyses_total"
    assert delta(after, before, analyses, outcome="succeeded") == 4
    assert delta(after, before, analyses, outcome="invalid_image") == 1
    for outcome in ("timeout", "internal", "retried", "skipped", "dropped"):
        assert delta(after, before, analyses, outcome=outcome) == 0

    # The pipeline's own timings, each observed once per result.
    for stage in STAGES:
        count = delta(after, before, "readface_worker_stage_seconds_count", stage=stage)
        assert count == 4
        seconds = sum(result["timings_ms"][stage] for result in results) / 1000
        observed = delta(after, before, "readface_worker_stage_seconds_sum", stage=stage)
        assert observed == pytest.approx(seconds, abs=1e-6)
        buckets = sorted(
            (float(dict(labels)["le"]), v)
            for (name, labels), v in after.items()
            if name == "readface_worker_stage_seconds_bucket" and ("stage", stage) in labels
        )
        counts = [v for _, v in buckets]
        assert counts == sorted(counts)  # cumulative
        stage_count = value(after, "readface_worker_stage_seconds_count", stage=stage)
        assert buckets[-1] == (math.inf, stage_count)

    faces = [len(result["faces"]) for result in results]
    assert faces.count(1) == 3 and faces.count(4) == 1
    per_image = "readface_worker_faces_per_image"
    assert delta(after, before, f"{per_image}_count") == 4
    assert delta(after, before, f"{per_image}_sum") == 7
    assert delta(after, before, f"{per_image}_bucket", le="0.0") == 0
    assert delta(after, before, f"{per_image}_bucket", le="1.0") == 3
    assert delta(after, before, f"{per_image}_bucket", le="3.0") == 3
    assert delta(after, before, f"{per_image}_bucket", le="5.0") == 4

    # Every job started once, the broken one too; none waited longer than the test ran.
    wait = "readface_worker_queue_wait_seconds"
    assert delta(after, before, f"{wait}_count") == 5
    assert delta(after, before, f"{wait}_bucket", le="+Inf") == 5
    assert 0 <= delta(after, before, f"{wait}_sum") < 5 * 60

    deliveries = "readface_worker_callback_deliveries_total"
    assert delta(after, before, deliveries, outcome="failed", attempt="1") == 1
    assert delta(after, before, deliveries, outcome="delivered", attempt="2") == 1
    assert total(after, deliveries) - total(before, deliveries) == 2

    # Both pool processes loaded the models: the scrape sums every process's files.
    loads = [(dict(labels), v) for (name, labels), v in after.items() if name == MODEL_LOADS]
    assert sum(v for _, v in loads) >= POOL_PROCESSES
    assert {labels["pack"] for labels, _ in loads} == {"default"}
    assert value(after, "readface_worker_analyses_in_progress") == 0


def test_a_pool_process_killed_mid_analysis_stops_counting_as_in_progress(stack: Stack) -> None:
    """A killed process never runs its shutdown signal: the scrape drops its live gauge, while
    its counters stay in the sums."""
    before = stack.scrape()
    analysis_id = stack.api.submit(slow_png(1)).json()["id"]
    poll(
        lambda: value(stack.scrape(), "readface_worker_analyses_in_progress") == 1,
        60,
        "the analysis to be in progress",
        every=0.02,
    )
    pool = child_pids(stack.worker_pid)
    assert len(pool) == POOL_PROCESSES
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    assert stack.api.wait_done(analysis_id, timeout=180)["status"] == "succeeded"
    poll(
        lambda: value(stack.scrape(), "readface_worker_analyses_in_progress") == 0,
        30,
        "the killed process's in-progress count to go",
    )
    after = stack.scrape()
    for (name, labels), count in before.items():
        if name.endswith("_total") or name.endswith("_count"):
            assert after[(name, labels)] >= count, name  # nothing counted was lost
    poll(
        lambda: total(stack.scrape(), MODEL_LOADS) - total(before, MODEL_LOADS) == POOL_PROCESSES,
        90,
        "the two replacement processes to load the models too",
    )


def job_events(log: Path) -> list[dict]:
    """The JSON lines of a log (Celery's and gunicorn's own lines are text)."""
    return [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and '"event"' in line
    ]


def test_json_log_lines_carry_the_analysis_id_and_tenant(stack: Stack) -> None:
    receiver = Receiver([500])
    try:
        analysis_id = stack.api.submit(
            astronaut_jpeg(quality=75), callback_url=receiver.url
        ).json()["id"]
        stack.api.wait_done(analysis_id)
        poll(lambda: len(receiver.deliveries) >= 2, 60, "the callback's second attempt")
    finally:
        receiver.server.shutdown()

    def events(log: Path) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for event in job_events(log):
            if event["analysis_id"] == analysis_id:
                found.setdefault(event["event"], []).append(event)
        return found

    [received] = events(stack.api_log)["received"]
    assert received["tenant"] == TENANT and received["logger"] == "readface.api"
    assert received["outcome"] == "claimed" and received["callback"] is True
    worker = poll(
        lambda: (
            (found := events(stack.worker_log)) and len(found.get("callback", [])) == 2 and found
        ),
        30,
        "the worker's two callback lines",
    )
    assert isinstance(worker, dict)
    assert worker.keys() == {"started", "succeeded", "callback"}
    for event in [line for lines in worker.values() for line in lines]:
        assert event["tenant"] == TENANT and event["logger"] == "readface.worker"
    [started], [succeeded] = worker["started"], worker["succeeded"]
    assert started["attempt"] == 1 and started["queue_wait_ms"] >= 0
    assert succeeded["faces"] == 1
    attempts = [(line["attempt"], line["outcome"], line["level"]) for line in worker["callback"]]
    assert attempts == [(1, "failed", "warning"), (2, "delivered", "info")]
    assert worker["callback"][0]["detail"] == "127.0.0.1: HTTP 500"
    # only the host: a URL's path or query can hold the receiver's token
    assert not any("/hook" in json.dumps(line) for line in worker["callback"])


def test_a_failed_analysis_logs_its_error_code(stack: Stack) -> None:
    analysis_id = stack.api.submit(astronaut_jpeg(quality=76)[:6000]).json()["id"]
    stack.api.wait_done(analysis_id)
    failed = poll(
        lambda: [
            e
            for e in job_events(stack.worker_log)
            if e["analysis_id"] == analysis_id and e["event"] == "failed"
        ],
        30,
        "the failed line",
    )
    assert isinstance(failed, list)
    [line] = failed
    assert line["level"] == "warning" and line["error_code"] == "invalid_image"
    assert line["tenant"] == TENANT
