"""Fixtures every suite shares: settings pointing at the real model files, loaded pipelines."""

from __future__ import annotations

import pytest

from harness.paths import MODEL_DIR
from shared.settings import Settings


@pytest.fixture(scope="session")
def model_settings() -> Settings:
    """Settings with the repository's fetched model dir (make setup fetches both packs)."""
    return Settings(model_dir=MODEL_DIR)


@pytest.fixture(scope="session")
def pipeline(model_settings: Settings):  # type: ignore[no-untyped-def]
    from worker.pipeline import load_pipeline

    return load_pipeline(model_settings, "default")


@pytest.fixture(scope="session")
def levi_hassner_pipeline(model_settings: Settings):  # type: ignore[no-untyped-def]
    from worker.pipeline import load_pipeline

    return load_pipeline(model_settings, "levi-hassner")
