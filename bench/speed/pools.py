"""Analysers in processes of their own, loaded and warmed once: readface's pipeline or the peer
package, for throughput with processes side by side and for timing analysers apart (OpenVINO
leaves its thread's float flags set)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool

import cv2

from bench.accuracy import packs as accuracy
from shared.settings import Settings, get_settings
from worker.pipeline import load_pipeline

# In a pool process: its analyser (readface's pipeline, or the peer package), loaded once.
_analyse: accuracy.Analyse | None = None


def _load_in_child(threads: int, settings: Settings | None) -> None:
    """settings None: the peer package instead of readface."""
    global _analyse
    cv2.setNumThreads(threads)
    _analyse = accuracy.peer() if settings is None else accuracy.readface(load_pipeline(settings))


def _loaded(_: int) -> int:
    assert _analyse is not None
    return os.getpid()


def _analyse_share(images: list[bytes]) -> int:
    assert _analyse is not None
    for encoded in images:
        _analyse(encoded)
    return len(images)


def faces_found(images: list[bytes]) -> int:
    """In a pool process: the faces its analyser finds on the images."""
    assert _analyse is not None
    return sum(len(_analyse(encoded)) for encoded in images)


def seconds_for(images: list[bytes]) -> float:
    """In a pool process: the seconds its analyser takes over the images, timed there (the
    bytes' trip to the process is not counted)."""
    started = time.perf_counter()
    _analyse_share(images)
    return time.perf_counter() - started


@contextmanager
def pipeline_pool(
    processes: int, threads: int = 1, settings: Settings | None = None
) -> Iterator[Pool]:
    """`processes` processes, each with its pipeline loaded and warmed (default: the settings
    of the environment)."""
    with _analyser_pool(processes, threads, settings or get_settings()) as pool:
        yield pool


@contextmanager
def peer_pool() -> Iterator[Pool]:
    """One process with the peer package (accuracy.peer) loaded, one thread."""
    with _analyser_pool(1, 1, None) as pool:
        yield pool


@contextmanager
def _analyser_pool(processes: int, threads: int, settings: Settings | None) -> Iterator[Pool]:
    # spawn, not fork: a fork of a process whose OpenCV thread pool has started can deadlock
    context = multiprocessing.get_context("spawn")
    initargs = (threads, settings)
    with context.Pool(processes, initializer=_load_in_child, initargs=initargs) as pool:
        ready: set[int] = set()
        while len(ready) < processes:  # until every process has loaded its analyser
            ready |= set(pool.map(_loaded, range(4 * processes), chunksize=1))
        yield pool


def pool_throughput(pool: Pool, images: list[bytes], processes: int) -> float:
    """Images per second through the pool, each process given an equal share."""
    started = time.perf_counter()
    done = sum(pool.map(_analyse_share, [images[i::processes] for i in range(processes)]))
    return done / (time.perf_counter() - started)


def process_throughput(
    images: list[bytes], processes: int, threads: int, settings: Settings
) -> float:
    """Images per second with `processes` processes, each with its pipeline loaded once."""
    with pipeline_pool(processes, threads, settings) as pool:
        return pool_throughput(pool, images, processes)
