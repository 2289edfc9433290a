"""Model packs: the manifest, verification naming every bad file, and idempotent fetching."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shared.manifest import Derivation, UnknownPackError, WheelSource, load_pack, pack_names
from shared.settings import Settings
from tests.conftest import MODEL_DIR
from worker.packs import PackVerificationError, fetch_pack, verify_pack
from worker.pipeline import load_pipeline


def copy_pack_files(name: str, target: Path) -> None:
    for spec in load_pack(name).files:
        shutil.copyfile(MODEL_DIR / spec.name, target / spec.name)


def test_manifest_defines_both_packs_with_pinned_sources() -> None:
    assert pack_names() == ["default", "levi-hassner"]
    for name in pack_names():
        pack = load_pack(name)
        assert len(pack.fingerprint) == 12
        names = {spec.name for spec in pack.files}
        for spec in pack.files:
            assert len(spec.sha256) == 64 and spec.size > 0
            if isinstance(spec.source, WheelSource):
                assert "==" in spec.source.pypi and spec.source.member
            else:
                assert set(spec.source.inputs) <= names  # derived from files of the same pack


def test_both_packs_derive_the_detector_as_onnx() -> None:
    for name in pack_names():
        pack = load_pack(name)
        (onnx,) = [spec for spec in pack.files if spec.name == pack.roles["detector_onnx"]]
        assert isinstance(onnx.source, Derivation)
        assert onnx.source.inputs == (pack.roles["detector_config"], pack.roles["detector_weights"])


def test_fingerprints_differ_between_packs() -> None:
    assert load_pack("default").fingerprint != load_pack("levi-hassner").fingerprint


def test_unknown_pack_is_named() -> None:
    with pytest.raises(UnknownPackError, match="nope"):
        load_pack("nope")


def test_verify_names_every_missing_and_altered_file(tmp_path: Path) -> None:
    copy_pack_files("default", tmp_path)
    (tmp_path / "age-v1.onnx").unlink()
    altered = tmp_path / "gender-v1.onnx"
    data = bytearray(altered.read_bytes())
    data[1000] ^= 0xFF
    altered.write_bytes(bytes(data))
    with pytest.raises(PackVerificationError) as caught:
        verify_pack(load_pack("default"), tmp_path)
    message = str(caught.value)
    assert "age-v1.onnx: missing" in message
    assert "gender-v1.onnx: altered" in message
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


def test_fetch_obtains_a_pack_from_its_pinned_wheels(tmp_path: Path) -> None:
    pack = load_pack("default")
    fetch_pack(pack, tmp_path, log=lambda line: None)
    verify_pack(pack, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in pack.files)
