"""Do the default pack's ONNX networks answer as face-api.js does? About 2 min.

The default pack's ONNX networks against the originals: face-api.js's own code under Node, on
TensorFlow.js's pure-JavaScript CPU backend (scripts/fetch-tfjs.sh installs both, pinned), given
the same chips. tests/unit/test_faceapi_parity.py checks photos of its own; this bench measures
on the best face of the first N congress portraits and utkface crops (all: --limit 0; TF.js on
the CPU backend takes about half a second per chip), on each engine.

    python -m bench.accuracy.tfjs_parity [--eval-dir DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy import packs as accuracy
from bench.common import EVAL_DIR, REPO, save, table
from shared.result_values import EXACT, FAST
from shared.settings import get_settings
from worker.decode import decode_image
from worker.models.base import FaceInputs
from worker.models.faceapi import FaceApiModel, grey_input, network_input
from worker.pipeline import Pipeline, load_pipeline

RUNNER = REPO / "tests" / "tfjs" / "faceapi_reference.js"
# TF.js's JavaScript CPU backend takes about half a second per chip and holds a batch's
# activations at once: chips go to Node this many at a time.
CHUNK = 32


def reference_dir() -> Path:
    """TF.js and face-api's code, installed from the npm registry (pinned) on first use."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "fetch-tfjs.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return Path(done.stdout.strip())


def tfjs_outputs(chips_bgr: list[np.ndarray], model_dir: Path) -> dict[str, np.ndarray]:
    """face-api under Node on the chips (112x112 BGR, as the pipeline cuts them): `age` (N),
    `male` (N) and `expression` (N x 7); CHUNK chips per Node process."""
    parts = [
        _tfjs_chunk(chips_bgr[start : start + CHUNK], model_dir)
        for start in range(0, len(chips_bgr), CHUNK)
    ]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _tfjs_chunk(chips_bgr: list[np.ndarray], model_dir: Path) -> dict[str, np.ndarray]:
    rgb = np.stack([chip[:, :, ::-1] for chip in chips_bgr]).astype(np.uint8)
    with tempfile.NamedTemporaryFile(suffix=".rgb") as handle:
        handle.write(rgb.tobytes())
        handle.flush()
        done = subprocess.run(
            ["node", str(RUNNER), str(reference_dir()), str(model_dir), handle.name],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    out = json.loads(done.stdout)
    return {
        "age": np.array(out["age"], dtype=np.float64),
        "male": np.array(out["gender"], dtype=np.float64)[:, 0],
        "expression": np.array(out["expression"], dtype=np.float64),
    }


@dataclass(frozen=True)
class Parity:
    """Max |ONNX - TF.js| over the chips, and the answers that changed."""

    chips: int
    age: float  # years
    male: float  # P(male)
    expression: float  # any class's probability
    gender_flips: int
    expression_flips: int

    def row(self) -> list[object]:
        return [
            self.chips,
            f"{self.age:.1e}",
            f"{self.male:.1e}",
            f"{self.expression:.1e}",
            self.gender_flips,
            self.expression_flips,
        ]


HEADERS = [
    "chips",
    "max |d age| (y)",
    "max |d P(male)|",
    "max |d expression|",
    "gender flips",
    "expression flips",
]


def compare(reference: dict[str, np.ndarray], ours: dict[str, np.ndarray]) -> Parity:
    return Parity(
        chips=int(reference["age"].size),
        age=float(np.abs(reference["age"] - ours["age"]).max()),
        male=float(np.abs(reference["male"] - ours["male"]).max()),
        expression=float(np.abs(reference["expression"] - ours["expression_faceapi"]).max()),
        gender_flips=int(((reference["male"] > 0.5) != (ours["male"] > 0.5)).sum()),
        expression_flips=int(
            (reference["expression"].argmax(1) != ours["expression_faceapi"].argmax(1)).sum()
        ),
    )


def onnx_outputs(model: FaceApiModel, chips_bgr: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The pack's networks on the chips, prepared exactly as the pipeline prepares them (fer's
    network too, though TF.js has no counterpart of it)."""
    batch = network_input(chips_bgr)
    return model.outputs(FaceInputs(batch, batch, 1, batch, grey_input(chips_bgr)))


def eval_chips(pipeline: Pipeline, eval_dir: Path, limit: int | None) -> list[np.ndarray]:
    """The best face's chip of each congress portrait and utkface crop."""
    model = pipeline.attributes
    assert isinstance(model, FaceApiModel)
    settings = get_settings()
    chips = []
    for name in ("congress", "utkface"):
        folder = eval_dir / name
        for row in accuracy.labels(folder)[: limit or None]:
            image = decode_image(accuracy.photo_bytes(folder, row), settings.max_pixels).pixels
            faces = pipeline.detector.detect(image, settings.min_face_score)
            chips += model.chips(image, faces[:1])
    return chips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--limit", type=int, default=50, help="photos per set")
    args = parser.parse_args(argv)
    settings = get_settings()
    pipeline = load_pipeline(settings, "default")
    chips = eval_chips(pipeline, args.eval_dir, args.limit)
    reference = tfjs_outputs(chips, settings.model_dir)
    rows = []
    for engine_name, precision in (("opencv", EXACT), ("openvino", EXACT), ("openvino", FAST)):
        variant = dataclasses.replace(settings, engine=engine_name, precision=precision)
        loaded = load_pipeline(variant, "default", verified=True)
        model = loaded.attributes
        assert isinstance(model, FaceApiModel)
        parity = compare(reference, onnx_outputs(model, chips))
        name = f"{engine_name} {precision} (runs as {loaded.engine.precision})"
        rows.append([name, *parity.row()])
    print(table(["engine", *HEADERS], rows, "ONNX against face-api.js on TF.js (Node, CPU)"))
    save("tfjs_parity", {"rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
