"""Typed access to the per-app objects the factory built."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from celery import Celery
from flask import current_app, g

from shared.blobs.analyses import AnalysisBlobs
from shared.settings import Settings
from shared.store import Store

if TYPE_CHECKING:
    from api.metrics import Metrics


def settings() -> Settings:
    return current_app.extensions["readface"]["settings"]


def store() -> Store:
    return current_app.extensions["readface"]["store"]


def tenant_store() -> Store:
    """The store scoped to the caller's tenant (api/guard.py sets it on every /v1 request)."""
    return store().for_tenant(g.tenant)


def analyses() -> AnalysisBlobs:
    """The caller's tenant's analyses: its store and the blob store their bytes live in."""
    return AnalysisBlobs(tenant_store(), current_app.extensions["readface"]["blobs"])


def celery() -> Celery:
    return current_app.extensions["readface"]["celery"]


def fingerprint() -> str:
    """The configured model pack's fingerprint (a stored result of another pack is stale)."""
    return current_app.extensions["readface"]["fingerprint"]


def metrics() -> Metrics:
    return current_app.extensions["readface"]["metrics"]


def upload_slots() -> threading.BoundedSemaphore:
    """Taken by an upload from its read into memory to its answer (api/uploads.py)."""
    return current_app.extensions["readface"]["upload_slots"]
