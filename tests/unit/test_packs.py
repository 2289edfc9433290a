"""Model packs: the manifest, verification naming every bad file, and idempotent fetching."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from harness.paths import MODEL_DIR
from shared.manifest import (
    Derivation,
    NpmSource,
    UnknownPackError,
    WheelSource,
    load_pack,
    pack_names,
)
from shared.settings import Settings
from worker.conversion.fetch import fetch_pack
from worker.packs import PackVerificationError, verify_pack
from worker.pipeline import load_pipeline


def copy_pack_files(name: str, target: Path) -> None:
    for spec in load_pack(name).files:
        shutil.copyfile(MODEL_DIR / spec.name, target / spec.name)


def test_manifest_defines_every_pack_with_pinned_sources() -> None:
    assert pack_names() == ["cydral", "default", "levi-hassner"]
    for name in pack_names():
        pack = load_pack(name)
        assert len(pack.fingerprint) == 12
        names = {spec.name for spec in pack.files}
        for spec in pack.files:
            assert len(spec.sha256) == 64 and spec.size > 0
            if isinstance(spec.source, WheelSource):
                assert "==" in spec.source.pypi and spec.source.member
            elif isinstance(spec.source, NpmSource):
                assert "@1." in spec.source.npm and spec.source.member.startswith("package/")
                assert spec.source.integrity.startswith("sha512-")
            else:
                assert set(spec.source.inputs) <= names  # derived from files of the same pack


def test_the_default_pack_is_face_api_from_npm_with_its_conversions() -> None:
    pack = load_pack("default")
    assert pack.kind == "face-api"
    sources = {spec.name: spec.source for spec in pack.files}
    for network in ("age_gender", "expression"):
        derived = sources[pack.roles[network]]
        assert isinstance(derived, Derivation)
        assert derived.inputs == (
            pack.roles[f"{network}_tfjs"],
            pack.roles[f"{network}_tfjs_shard"],
        )
        assert all(isinstance(sources[name], NpmSource) for name in derived.inputs)


def test_every_pack_derives_the_detector_as_onnx() -> None:
    for name in pack_names():
        pack = load_pack(name)
        (onnx,) = [spec for spec in pack.files if spec.name == pack.roles["detector_onnx"]]
        assert isinstance(onnx.source, Derivation)
        assert onnx.source.inputs == (pack.roles["detector_config"], pack.roles["detector_weights"])


def test_fingerprints_differ_between_packs() -> None:
    assert len({load_pack(name).fingerprint for name in pack_names()}) == len(pack_names())


def test_leaving_out_an_attribute_changes_the_results_version() -> None:
    pack = load_pack("default")
    assert pack.version(("gender", "age", "expression")) == pack.fingerprint
    assert pack.version(("gender", "age")) not in (pack.fingerprint, "")
    assert len(pack.version(("gender", "age"))) == 12


def test_unknown_pack_is_named() -> None:
    with pytest.raises(UnknownPackError, match="nope"):
        load_pack("nope")


def test_verify_names_every_missing_and_altered_file(tmp_path: Path) -> None:
    copy_pack_files("default", tmp_path)
    (tmp_path / "age_gender_model.onnx").unlink()
    altered = tmp_path / "face_expression_model.bin"
    data = bytearray(altered.read_bytes())
    data[1000] ^= 0xFF
    altered.write_bytes(bytes(data))
    with pytest.raises(PackVerificationError) as caught:
        verify_pack(load_pack("default"), tmp_path)
    message = str(caught.value)
    assert "age_gender_model.onnx: missing" in message
    assert "face_expression_model.bin: altered" in message
    assert len(caught.value.problems) == 2


def test_pipeline_refuses_an_unverified_pack(tmp_path: Path) -> None:
    copy_pack_files("default", tmp_path)
    (tmp_path / "deploy.prototxt").write_text("name: 'tampered'\n")
    with pytest.raises(PackVerificationError, match=r"deploy\.prototxt: altered"):
        load_pipeline(Settings(model_dir=tmp_path), "default")


def test_fetch_skips_files_already_verified(tmp_path: Path) -> None:
    copy_pack_files("default", tmp_path)
    said: list[str] = []
    fetch_pack(load_pack("default"), tmp_path, log=said.append)
    assert said == []  # nothing downloaded


def test_fetch_derives_a_missing_derived_file_and_reports_the_check(tmp_path: Path) -> None:
    copy_pack_files("default", tmp_path)
    derived = tmp_path / load_pack("default").roles["detector_onnx"]
    derived.unlink()
    said: list[str] = []
    fetch_pack(load_pack("default"), tmp_path, log=said.append)
    assert said[0].startswith(f"deriving {derived.name}")
    assert any("astronaut: max |diff| mbox_loc" in line for line in said)
    assert derived.stat().st_mode & 0o222 == 0
    verify_pack(load_pack("default"), tmp_path)


def test_fetched_files_are_read_only() -> None:
    for spec in load_pack("default").files:
        assert (MODEL_DIR / spec.name).stat().st_mode & 0o222 == 0


def test_fetch_refuses_an_npm_tarball_of_other_integrity(tmp_path: Path) -> None:
    pack = load_pack("default")
    (shard,) = [spec for spec in pack.files if spec.name == pack.roles["expression_tfjs_shard"]]
    assert isinstance(shard.source, NpmSource)
    pinned = shard.source.integrity
    other = dataclasses.replace(shard.source, integrity="sha512-" + "A" * 86 + "==")
    lone = dataclasses.replace(pack, files=(dataclasses.replace(shard, source=other),))
    with pytest.raises(PackVerificationError) as caught:
        fetch_pack(lone, tmp_path, log=lambda line: None)
    assert f"has integrity {pinned}, expected sha512-AAA" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing extracted from it


def test_fetch_obtains_a_pack_from_its_pinned_sources(tmp_path: Path) -> None:
    pack = load_pack("default")
    fetch_pack(pack, tmp_path, log=lambda line: None)
    verify_pack(pack, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in pack.files)
