"""OpenVINO's model cache in the data directory: compiled networks are written once and
imported after, a directory that cannot be made means no cache, and processes starting together
on an empty cache all load (worker/models/engine.py: cache_writes)."""

from __future__ import annotations

import subprocess
import sys

from harness.images import astronaut_rgb, encode
from harness.paths import MODEL_DIR
from shared.settings import Settings
from worker.models.engine import OPENVINO_CACHE
from worker.pipeline import load_pipeline


def test_compiled_networks_are_cached_in_the_data_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(model_dir=MODEL_DIR, data_dir=tmp_path)
    first = load_pipeline(settings).analyze(encode(astronaut_rgb())).result["faces"]
    cached = sorted((tmp_path / OPENVINO_CACHE).iterdir())
    assert cached
    # a second load imports them: the same answers, no new compiled network
    assert load_pipeline(settings).analyze(encode(astronaut_rgb())).result["faces"] == first
    assert sorted((tmp_path / OPENVINO_CACHE).iterdir()) == cached


# A worker process starting: the pipeline loaded with a data directory (its model cache).
LOAD_WITH_CACHE = """
import sys
from pathlib import Path
from shared.settings import Settings
from worker.pipeline import load_pipeline
load_pipeline(Settings(model_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2])))
"""


def test_processes_starting_together_on_an_empty_cache_all_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Without the cache's lock (engine.cache_writes), about one process in 30 failed here on
    # another's half-written file: a race, so this can miss it, but never fails with the lock.
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD_WITH_CACHE, str(MODEL_DIR), str(tmp_path)],
            cwd=MODEL_DIR.parent,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    errors = [start.communicate(timeout=300)[1] for start in starts]
    assert [start.returncode for start in starts] == [0] * 6, errors
    assert list((tmp_path / OPENVINO_CACHE).glob("*.blob"))


def test_a_data_directory_that_cannot_be_made_means_no_cache(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # as in the worker image without a data volume: the networks are compiled at each start
    (tmp_path / "a-file").touch()
    settings = Settings(model_dir=MODEL_DIR, data_dir=tmp_path / "a-file" / "data")
    assert load_pipeline(settings).analyze(encode(astronaut_rgb())).result["faces"]
