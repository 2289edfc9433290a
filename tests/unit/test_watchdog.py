"""The watchdog's rules (worker/watchdog.py), on a stand-in for Celery's worker."""

from __future__ import annotations

from types import SimpleNamespace

from celery.bootsteps import CLOSE, RUN

from worker.watchdog import STALL_SECONDS, STOP_GRACE_SECONDS, Watchdog


def watchdog(state: int = RUN) -> tuple[Watchdog, SimpleNamespace]:
    worker = SimpleNamespace(blueprint=SimpleNamespace(state=state))
    return Watchdog(worker, stop_deadline=100, exit=lambda status: None), worker


def test_a_ticking_loop_is_sound_and_a_stalled_one_is_not() -> None:
    dog, _ = watchdog()
    dog.beat()
    beat = dog._last_beat
    assert beat is not None
    # a whole second either side: (beat + 30) - beat is 30 only up to the float's rounding
    assert dog.verdict(beat + STALL_SECONDS - 1) is None
    assert "event loop" in (dog.verdict(beat + STALL_SECONDS + 1) or "")


def test_a_consumer_reconnecting_is_not_stalled() -> None:
    dog, _ = watchdog()
    dog.beat()
    dog.paused()
    assert dog.verdict(10**9) is None


def test_a_worker_stopping_on_its_own_gets_a_grace_then_exits() -> None:
    dog, worker = watchdog()
    worker.blueprint.state = CLOSE
    assert dog.verdict(1000.0) is None
    assert dog.verdict(1000.0 + STOP_GRACE_SECONDS) is None
    assert "consumer died" in (dog.verdict(1000.0 + STOP_GRACE_SECONDS + 1) or "")


def test_an_asked_stop_gets_until_its_deadline() -> None:
    dog, worker = watchdog()
    dog.stop_asked()
    asked = dog._stop_asked_at
    assert asked is not None
    worker.blueprint.state = CLOSE
    assert dog.verdict(asked + 99) is None
    assert "did not end" in (dog.verdict(asked + 101) or "")
