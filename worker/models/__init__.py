"""The models of a pack, behind one interface: each is loaded once from the pack's files, then
predicts. A pack's manifest `kind` picks its attribute model; every pack detects with res10."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.manifest import Pack
from worker.models import cydral, levi_hassner, res10
from worker.models.base import AttributeModel, FaceDetector
from worker.models.engine import LoadNetwork, network_loader
from worker.options import PipelineOptions

LoadAttributeModel = Callable[
    [Path, Mapping[str, str], PipelineOptions, LoadNetwork], AttributeModel
]

# One entry per manifest `kind`: the module that knows the kind's roles and pre/post-processing.
KINDS: dict[str, LoadAttributeModel] = {
    "cydral": cydral.load,
    "levi-hassner": levi_hassner.load,
}


@dataclass(frozen=True, slots=True)
class PackModels:
    """A pack's detector and attribute model, loaded."""

    detector: FaceDetector
    attributes: AttributeModel


def load_models(
    pack: Pack, model_dir: Path, options: PipelineOptions, engine: str = "opencv"
) -> PackModels:
    """Load the pack's models from model_dir through `engine`; ValueError on an unknown kind."""
    if pack.kind not in KINDS:
        raise ValueError(f"model pack {pack.name!r} has unknown kind {pack.kind!r}")
    load_network = network_loader(engine)
    return PackModels(
        detector=res10.load(model_dir, pack.roles, options, load_network),
        attributes=KINDS[pack.kind](model_dir, pack.roles, options, load_network),
    )
