"""The models of a pack, behind one interface: each is loaded once from the pack's files, then
predicts. A pack's manifest `kind` picks its attribute model; every pack detects with res10."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.manifest import Pack
from worker.models import cydral, faceapi, levi_hassner, res10
from worker.models.base import AttributeModel, FaceDetector
from worker.models.engine import Engine, OpenCVEngine
from worker.options import PipelineOptions

# model dir, roles, options, engine, and whether to load an expression network (if the kind has
# one) -> the kind's attribute model.
LoadAttributeModel = Callable[
    [Path, Mapping[str, str], PipelineOptions, Engine, bool], AttributeModel
]

# One entry per manifest `kind`: the module that knows the kind's roles and pre/post-processing.
KINDS: dict[str, LoadAttributeModel] = {
    "cydral": cydral.load,
    "levi-hassner": levi_hassner.load,
    "face-api": faceapi.load,
}


@dataclass(frozen=True, slots=True)
class PackModels:
    """A pack's detector and attribute model, loaded, and the engine they run on."""

    detector: FaceDetector
    attributes: AttributeModel
    engine: Engine


def load_models(
    pack: Pack,
    model_dir: Path,
    options: PipelineOptions,
    engine: Engine | None = None,
    expression: bool = True,
) -> PackModels:
    """Load the pack's models from model_dir on `engine` (default: the reference, cv2.dnn),
    its expression network only if `expression`; ValueError on an unknown kind."""
    if pack.kind not in KINDS:
        raise ValueError(f"model pack {pack.name!r} has unknown kind {pack.kind!r}")
    engine = engine or OpenCVEngine()
    return PackModels(
        detector=res10.load(model_dir, pack.roles, options, engine),
        attributes=KINDS[pack.kind](model_dir, pack.roles, options, engine, expression),
        engine=engine,
    )
