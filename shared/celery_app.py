"""The Celery app definition both sides share: names, queues, serializer, delivery guarantees.

Importing this pulls in no task code and no OpenCV: the API sends tasks by name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from celery import Celery, signals

from shared.redis_connection import broker_sentinel_options, broker_url, dead_peer_options
from shared.settings import Settings
from shared.store.keys import LEASE_MARGIN_SECONDS, attempt_lease_seconds

ANALYZE_TASK = "readface.analyze"
CALLBACK_TASK = "readface.deliver_callback"
ANALYZE_QUEUE = "analyze"
CALLBACK_QUEUE = "callbacks"
# Callbacks get a worker of their own (`readface up`, compose, k8s) so that slow receivers never
# hold analysis capacity. Deliveries wait on the network, not the CPU: threads, this many.
CALLBACK_WORKER_POOL = "threads"
CALLBACK_WORKER_THREADS = 8

# A message a worker took but has not acknowledged goes back to its queue once it has been out
# this much longer than its task can last: a lost host's jobs return after that (plus one sweep),
# while a healthy worker is never overtaken. The margin covers clock skew between hosts.
VISIBILITY_MARGIN_SECONDS = LEASE_MARGIN_SECONDS
# How often each worker looks for such messages (kombu's default sweep is 100 s), and how often
# the sweeper (worker/sweeper.py) looks for jobs whose message was lost.
RESTORE_SWEEP_SECONDS = 5
# Callback retries wait for their countdown inside the worker that took them, unacknowledged, for
# up to minutes: their own index, restored only by callback workers after a longer timeout, so an
# analysis worker's short one never hands a waiting retry to a second worker.
CALLBACK_UNACKED_KEYS = {
    "unacked_key": "unacked_callbacks",
    "unacked_index_key": "unacked_index_callbacks",
    "unacked_mutex_key": "unacked_mutex_callbacks",
}


# A pool process whose peak RSS passed this share of the memory ceiling (worker/memory_limit.py)
# is replaced once its task ends.
RECYCLE_SHARE_OF_CEILING = 5 / 6


def max_memory_per_child_kib(settings: Settings) -> int:
    """Celery's worker_max_memory_per_child: KiB of a pool process's peak RSS."""
    return int(settings.worker_memory_mb * 1_000_000 * RECYCLE_SHARE_OF_CEILING) // 1024


def task_args(tenant: str, *args: str) -> list[str]:
    """A task's arguments, then its tenant when there is one. Without keys (tenant "") the
    arguments go alone: the form every worker version reads, so that during a rolling upgrade
    no worker is handed a message it cannot parse."""
    return [*args, tenant] if tenant else list(args)


def analysis_visibility_timeout(settings: Settings) -> float:
    """Seconds after which a taken analysis is handed out again: the hard limit plus a margin,
    the lease the store gives an attempt (after which the sweeper sends a lost job again)."""
    return attempt_lease_seconds(settings)


def callback_visibility_timeout(settings: Settings) -> float:
    """Seconds after which a taken delivery is handed out again: the longest retry countdown
    (shared/callbacks/delivery.py backoff_seconds) plus one attempt's deadline plus a margin."""
    longest_countdown = settings.callback_backoff * 2 ** max(settings.callback_max_attempts - 2, 0)
    return longest_countdown + settings.callback_timeout + VISIBILITY_MARGIN_SECONDS


def consumer_transport_options(settings: Settings, queues: Collection[str]) -> dict[str, Any]:
    """The broker options of a worker consuming `queues` (a worker taking callbacks at all
    gets the callbacks' timeout and index)."""
    options: dict[str, Any] = {
        "visibility_timeout": analysis_visibility_timeout(settings),
        "unacked_restore_interval": RESTORE_SWEEP_SECONDS,
        "unacked_restore_throttle": 1,
        # a sweep holds this lock for milliseconds; a worker cut off while holding it would
        # otherwise stop every sweep for kombu's default 300 s
        "unacked_mutex_expire": 15,
        # a broker gone without closing the connection (host loss, partition) fails a command
        # within seconds instead of blocking it forever; the event loop waits on BRPOP with no
        # socket timeout: kombu drops a connection whose reply is health_check_interval overdue,
        # so a worker cut off for a while consumes again soon after the network comes back
        **dead_peer_options(settings.redis_url),
    }
    # with a sentinel:// URL: the master's name, and the timeouts for the sentinels too
    options.update(broker_sentinel_options(settings.redis_url, options))
    if CALLBACK_QUEUE in queues:
        options.update(
            CALLBACK_UNACKED_KEYS, visibility_timeout=callback_visibility_timeout(settings)
        )
    return options


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration of these settings (senders' transport options)."""
    return {
        "broker_url": broker_url(settings.redis_url),
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # readface stores its own results in Redis; Celery's result backend would be a copy
        "task_ignore_result": True,
        # a task is acknowledged only when it ends, and a task whose worker died is requeued:
        # with the image hash as id, running an analysis twice is harmless, losing it is not
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # no task_soft_time_limit: Celery's soft limit can strike inside billiard and kill the
        # worker's consumer; analyses arm their own around the pipeline (worker/time_limit.py)
        "task_time_limit": settings.task_hard_time_limit,
        "worker_max_memory_per_child": max_memory_per_child_kib(settings),
        # what a worker consumes decides its options (below); senders use the analysis ones
        "broker_transport_options": consumer_transport_options(settings, [ANALYZE_QUEUE]),
        "broker_connection_retry_on_startup": True,
        "task_default_queue": ANALYZE_QUEUE,
        "task_routes": {
            ANALYZE_TASK: {"queue": ANALYZE_QUEUE},
            CALLBACK_TASK: {"queue": CALLBACK_QUEUE},
        },
        "worker_send_task_events": False,
        # no task has a rate limit: the main process skips its token-bucket step per message
        "worker_disable_rate_limits": True,
        "worker_hijack_root_logger": False,
    }


def create_celery_app(settings: Settings | Callable[[], Settings]) -> Celery:
    """A Celery app on the settings' Redis; creating it opens no connection. Given a function
    instead, the app calls it only when its configuration is first read: a worker's module can
    create its app at import and still read the environment as the worker starts."""
    read = settings if callable(settings) else lambda: settings
    app = Celery("readface")
    app.add_defaults(lambda: celery_config(read()))

    # worker_init comes after the worker knows its queues and before it connects to consume.
    def consume_with_queue_options(sender: Any, **_: Any) -> None:
        if sender.app is app:
            queues = set(app.amqp.queues.consume_from)
            app.conf.broker_transport_options = consumer_transport_options(read(), queues)

    signals.worker_init.connect(consume_with_queue_options, weak=False)
    return app
