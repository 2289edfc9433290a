"""Verifying a model pack's files by their SHA-256 before anything loads them. Fetching them is
the build step's (worker/conversion/fetch.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from shared.manifest import ModelFile, Pack


class PackVerificationError(RuntimeError):
    """One or more model files are missing or altered; the message names each of them."""

    def __init__(self, pack: Pack, model_dir: Path, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"model pack {pack.name!r} in {model_dir} failed verification:\n{lines}\n"
            f"Run `readface models fetch --pack {pack.name}` to obtain the files."
        )


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_problem(model_dir: Path, spec: ModelFile) -> str | None:
    path = model_dir / spec.name
    if not path.is_file():
        return f"{spec.name}: missing"
    size = path.stat().st_size
    if size != spec.size:
        return f"{spec.name}: altered (size {size} bytes, expected {spec.size})"
    actual = sha256_of(path)
    if actual != spec.sha256:
        return f"{spec.name}: altered (sha256 {actual[:12]}…, expected {spec.sha256[:12]}…)"
    return None


def verify_pack(pack: Pack, model_dir: Path) -> None:
    """Raise PackVerificationError naming every missing or altered file of the pack."""
    problems = [p for spec in pack.files if (p := file_problem(model_dir, spec))]
    if problems:
        raise PackVerificationError(pack, model_dir, problems)
