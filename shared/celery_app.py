"""The Celery app definition both sides share: names, queues, serializer, delivery guarantees.

Importing this pulls in no task code and no OpenCV: the API sends tasks by name.
"""

from __future__ import annotations

from celery import Celery

from shared.settings import Settings

ANALYZE_TASK = "readface.analyze"
CALLBACK_TASK = "readface.deliver_callback"
ANALYZE_QUEUE = "analyze"
CALLBACK_QUEUE = "callbacks"
# Callbacks get a worker of their own (`readface up`, compose, k8s) so that slow receivers never
# hold analysis capacity. Deliveries wait on the network, not the CPU: threads, this many.
CALLBACK_WORKER_POOL = "threads"
CALLBACK_WORKER_THREADS = 8


def create_celery_app(settings: Settings) -> Celery:
    """A Celery app on the settings' Redis; creating it opens no connection."""
    app = Celery("readface", broker=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # readface stores its own results in Redis; Celery's result backend would be a copy
        task_ignore_result=True,
        # a task is acknowledged only when it ends, and a task whose worker died is requeued:
        # with the image hash as id, running an analysis twice is harmless, losing it is not
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_hard_time_limit,
        # unacknowledged messages come back after this; it must exceed the longest task
        broker_transport_options={"visibility_timeout": 4 * settings.task_hard_time_limit},
        broker_connection_retry_on_startup=True,
        task_default_queue=ANALYZE_QUEUE,
        task_routes={
            ANALYZE_TASK: {"queue": ANALYZE_QUEUE},
            CALLBACK_TASK: {"queue": CALLBACK_QUEUE},
        },
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )
    return app
