"""Where the repository and its fetched model files are, for code that starts the service."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = REPO / "models"
