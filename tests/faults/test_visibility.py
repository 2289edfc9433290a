"""A callback retry waits, unacknowledged, longer than the analysis workers' visibility timeout:
it must still be delivered once, not handed to a second worker by the broker's restore sweep."""

from __future__ import annotations

import pytest

from harness.images import astronaut_jpeg
from harness.receivers import Receiver
from harness.service import (
    deliveries_settled,
    poll,
    running_api,
    running_redis,
    running_split_workers,
    service_env,
    wait_ready,
)
from shared.celery_app import (
    RESTORE_SWEEP_SECONDS,
    analysis_visibility_timeout,
)
from shared.settings import Settings

pytestmark = pytest.mark.integration
HARD_LIMIT = 0.5
# The first retry's countdown is between half and all of this: past the analysis workers'
# visibility timeout and their next sweep.
BACKOFF = 2 * (
    analysis_visibility_timeout(Settings(task_hard_time_limit=HARD_LIMIT))
    + 2 * RESTORE_SWEEP_SECONDS
)


def test_a_retry_waiting_past_the_visibility_timeout_is_delivered_once() -> None:
    receiver = Receiver([500])
    with running_redis() as server:
        env = service_env(
            server.url,
            READFACE_CALLBACK_ALLOW_PRIVATE="1",
            READFACE_CALLBACK_BACKOFF=str(BACKOFF),
            READFACE_CALLBACK_MAX_ATTEMPTS="2",
            READFACE_TASK_SOFT_TIME_LIMIT=str(HARD_LIMIT / 2),
            READFACE_TASK_HARD_TIME_LIMIT=str(HARD_LIMIT),
        )
        with (
            running_split_workers(env),
            running_api(env) as api,
        ):
            try:
                wait_ready(api)
                api.submit(astronaut_jpeg(quality=35), callback_url=receiver.url)
                poll(lambda: len(receiver.deliveries) >= 2, BACKOFF + 30, "the retry")
                poll(lambda: deliveries_settled(server.url), 30, "the delivery to end")
                assert len(receiver.deliveries) == 2  # the 500, then one 200
            finally:
                receiver.server.shutdown()
