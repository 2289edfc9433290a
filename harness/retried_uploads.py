"""Uploads sent the way a client rides out a failover (harness/sentinel.py) or any spell of 503s:
again on 503 or no answer, until accepted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

# How long a client keeps retrying one upload that is answered 503 or not at all.
SUBMIT_DEADLINE_SECONDS = 60


@dataclass
class Submissions:
    """Uploads sent the way a client retries them: again on 503 or no answer, until accepted
    (202, or 200 if it ended meanwhile). Records when each was accepted."""

    api_url: str
    payloads: list[bytes]
    # id -> (monotonic) when the attempt that was accepted was sent, and when it was answered
    accepted: dict[str, tuple[float, float]] = field(default_factory=dict)
    refused: int = 0  # 503s and dropped connections while the primary was gone
    errors: list[str] = field(default_factory=list)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted_at_least(self, count: int) -> Callable[[], bool]:
        """A check for poll(): whether `count` uploads have been accepted."""
        return lambda: len(self.accepted) >= count

    def first_accepted_after(self, moment: float) -> float:
        """Seconds from `moment` to the first answer accepting an upload sent after it."""
        return min(answered for sent, answered in self.accepted.values() if sent > moment) - moment

    def run(self, threads: int) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._submitter, daemon=True) for _ in range(threads)]
        for worker in workers:
            worker.start()
        return workers

    def _submitter(self) -> None:
        session = requests.Session()  # one per thread
        while True:
            with self._lock:
                if self._next >= len(self.payloads) or self.errors:
                    return
                data = self.payloads[self._next]
                self._next += 1
            try:
                self._submit(session, data)
            except Exception as error:  # a thread cannot fail the test: it reports
                self.errors.append(repr(error))

    def _submit(self, session: requests.Session, data: bytes) -> None:
        deadline = time.monotonic() + SUBMIT_DEADLINE_SECONDS
        while (sent := time.monotonic()) < deadline:
            try:
                response = session.post(
                    f"{self.api_url}/v1/analyses",
                    data=data,
                    headers={"Content-Type": "image/jpeg"},
                    timeout=30,
                )
            except requests.RequestException:
                response = None
            if response is not None and response.status_code in (200, 202):
                with self._lock:
                    self.accepted[response.json()["id"]] = (sent, time.monotonic())
                return
            if response is not None and response.status_code != 503:
                raise AssertionError(f"{response.status_code}: {response.text}")
            with self._lock:
                self.refused += 1
            time.sleep(0.1)  # a client's pause before retrying, not a synchronisation
        raise AssertionError("an upload was not accepted within the deadline")
