"""Where does the in-process pipeline's time go, and how does it scale? About 6 min.

The in-process pipeline: time per stage, against its unavoidable parts measured bare, and how
it scales with image size, face count, threads and processes; and per stage on each engine.

    python -m bench.speed.pipeline [--repeats 5] [--engine opencv|openvino] [--precision exact|fast]
                                   [--parts limit,sizes,faces,throughput,engines] [--portraits 30]
                                   [--full-precision ROLE,ROLE]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from skimage import data

from bench.common import EVAL_DIR, median, save, table
from bench.engine_variants import (
    add_engine_options,
    add_full_precision_option,
    engine_settings,
    full_precision_options,
    variant_pipelines,
)
from bench.speed.pools import process_throughput
from shared.settings import Settings
from worker.align import landmark_box
from worker.annotate import JPEG_QUALITY
from worker.models.res10 import Res10Detector, SsdNetwork
from worker.options import PipelineOptions
from worker.pipeline import Pipeline, load_pipeline

STAGES = ("decode", "detect", "align", "classify", "annotate", "total")


def elapsed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


class RecordingNetwork:
    """Stands in for the detector's network and keeps every input it is given."""

    def __init__(self, network: SsdNetwork) -> None:
        self.network = network
        self.inputs: list[tuple[np.ndarray, float]] = []

    def detections(self, blob: np.ndarray, min_score: float) -> np.ndarray:
        self.inputs.append((blob, min_score))
        return self.network.detections(blob, min_score)


def bare_parts(pipeline: Pipeline, encoded: bytes) -> dict[str, Callable[[], object]]:
    """The unavoidable work for one image, as separate actions: JPEG decode, the detector's
    forwards (the whole image, and the closer looks this image needs), the classifiers' forwards
    on this image's batch, the annotated JPEG's encode; and, apart, the landmark model (an
    inference too, though not one of the issue's unavoidable parts). The detector's forwards
    include its detection output (in cv2.dnn's Caffe graph; in numpy after other engines)."""
    image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    detector = pipeline.detector
    assert isinstance(detector, Res10Detector)
    recorder = RecordingNetwork(detector.network)
    faces = Res10Detector(recorder, detector.options).detect(image, pipeline.min_face_score)
    model = pipeline.attributes
    inputs = model.prepare(image, faces)
    # Each network once, on its batch (one network may serve several attributes).
    runs = [(model.gender_net, inputs.gender), (model.age_net, inputs.age)]
    if model.age_net is model.gender_net:
        runs = runs[:1]
    if model.expression_net is not None and inputs.expression is not None:
        runs.append((model.expression_net, inputs.expression))
    fer = getattr(model, "fer_net", None)
    if fer is not None and inputs.expression_grey is not None:
        runs.append((fer, inputs.expression_grey))
    landmarker = getattr(pipeline.attributes, "landmarker", None)
    boxes = [landmark_box(face, detector.options) for face in faces] if landmarker else []
    return {
        "decode": lambda: cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR),
        "detector forwards": lambda: [detector.network.detections(*i) for i in recorder.inputs],
        "classifier forwards": lambda: [net.run(batch) for net, batch in runs if batch.shape[0]],
        "encode": lambda: cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]),
        "landmarks": lambda: [landmarker.landmarks(image, box) for box in boxes],
    }


def stage_times(pipeline: Pipeline, encoded: bytes, repeats: int) -> dict[str, float]:
    pipeline.analyze(encoded)
    runs = [pipeline.analyze(encoded).result["timings_ms"] for _ in range(repeats)]
    return {stage: median([r[stage] for r in runs]) for stage in STAGES}


def group_photos(eval_dir: Path) -> list[Path]:
    return sorted(p for p in (eval_dir / "groups").iterdir() if p.suffix in (".jpg", ".png"))


def limit_table(pipeline: Pipeline, eval_dir: Path, repeats: int) -> dict[str, Any]:
    """Each image's pipeline time against its bare parts, timed in alternation (one analysis,
    then each part once, `repeats` times) so that a slow spell of the machine hits both."""
    rows, totals, sums, landmarks = [], [], [], []
    for path in group_photos(eval_dir):
        encoded = path.read_bytes()
        parts = bare_parts(pipeline, encoded)
        runs, part_runs = [], []
        for _ in range(repeats + 1):  # the first round warms up
            runs.append(pipeline.analyze(encoded).result)
            part_runs.append({name: elapsed_ms(action) for name, action in parts.items()})
        stages = {stage: median([r["timings_ms"][stage] for r in runs[1:]]) for stage in STAGES}
        limit = median([sum(v for k, v in p.items() if k != "landmarks") for p in part_runs[1:]])
        landmarks.append(median([p["landmarks"] for p in part_runs[1:]]))
        totals.append(stages["total"])
        sums.append(limit)
        rows.append(
            [
                path.name[:24],
                len(runs[0]["faces"]),
                *(stages[s] for s in STAGES),
                limit,
                f"{stages['total'] / limit - 1:+.0%}",
                landmarks[-1],
                f"{stages['total'] / (limit + landmarks[-1]) - 1:+.0%}",
            ]
        )
    print(
        table(
            ["photo", "faces", *STAGES, "bare parts", "overhead", "landmarks", "overhead'"],
            rows,
            "Per image, ms (median): readface stages vs the sum of its unavoidable parts "
            "(decode, detector forwards, classifier forwards, JPEG encode); overhead' also counts "
            "the landmark model as unavoidable",
        )
    )
    overall = sum(totals) / sum(sums) - 1
    beyond_models = sum(totals) / (sum(sums) + sum(landmarks)) - 1
    print(
        f"overall overhead over the bare parts: {overall:+.1%}; also counting the landmark "
        f"model: {beyond_models:+.1%}  (median image {median(totals):.1f} ms)\n"
    )
    return {
        "rows": rows,
        "overhead": overall,
        "overhead_beyond_models": beyond_models,
        "median_total_ms": median(totals),
    }


def size_scaling(pipeline: Pipeline, eval_dir: Path, repeats: int) -> list[list[object]]:
    source = cv2.imread(str(group_photos(eval_dir)[3]))
    rows = []
    for megapixels in (0.3, 1, 3, 12, 24):
        scale = (megapixels * 1e6 / (source.shape[0] * source.shape[1])) ** 0.5
        image = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        stages = stage_times(pipeline, encoded, repeats)
        rows.append(
            [f"{image.shape[1]}x{image.shape[0]}", megapixels, *(stages[s] for s in STAGES)]
        )
    print(table(["size", "MP", *STAGES], rows, "Image size scaling, ms (median)"), "\n")
    return rows


def face_scaling(pipeline: Pipeline, repeats: int) -> list[list[object]]:
    """Grids of the astronaut's head (240x240 crops), near-square so every face stays large
    enough for the 300x300 detector input."""
    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:260, 110:350]
    rows = []
    for columns, rows_ in ((1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 5)):
        grid = np.tile(head, (rows_, columns, 1))
        encoded = cv2.imencode(".jpg", grid, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        stages = stage_times(pipeline, encoded, repeats)
        found = len(pipeline.analyze(encoded).result["faces"])
        rows.append([columns * rows_, found, *(stages[s] for s in STAGES)])
    print(table(["faces", "found", *STAGES], rows, "Face count scaling, ms (median)"), "\n")
    return rows


def scaling_table(eval_dir: Path, settings: Settings) -> dict[str, float]:
    images = [p.read_bytes() for p in group_photos(eval_dir)] * 4
    results = {}
    rows = []
    for processes, threads in ((1, 1), (1, 2), (2, 1), (3, 1), (4, 1)):
        rate = process_throughput(images, processes, threads, settings)
        results[f"{processes}x{threads}"] = rate
        rows.append([processes, threads, rate])
    print(
        table(
            ["processes", "cv2 threads each", "images/s"],
            rows,
            "In-process throughput on groups (2 cores)",
        ),
        "\n",
    )
    return results


def engines_table(
    settings: Settings, eval_dir: Path, portraits: int, repeats: int, options: PipelineOptions
) -> dict[str, dict[str, dict[str, float]]]:
    """Per stage, median ms per photo, on each engine: portraits (congress) and group photos,
    in alternating rounds (every engine once per round) so that drift hits all alike."""
    pipelines = variant_pipelines(settings, options)
    workloads = {
        "portrait": [p.read_bytes() for p in sorted((eval_dir / "congress").glob("*.jpg"))][
            :portraits
        ],
        "group": [p.read_bytes() for p in group_photos(eval_dir)],
    }
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        kind: {name: {stage: [] for stage in STAGES} for name in pipelines} for kind in workloads
    }
    for pipeline in pipelines.values():  # warm-up: first sizes compile on some engines
        for images in workloads.values():
            for encoded in images:
                pipeline.analyze(encoded)
    for _ in range(repeats):
        for name, pipeline in pipelines.items():
            for kind, images in workloads.items():
                for encoded in images:
                    timings = pipeline.analyze(encoded).result["timings_ms"]
                    for stage in STAGES:
                        samples[kind][name][stage].append(timings[stage])
    medians = {
        kind: {
            name: {stage: median(values) for stage, values in stages.items()}
            for name, stages in by_engine.items()
        }
        for kind, by_engine in samples.items()
    }
    reference = next(iter(pipelines))
    rows = []
    for kind, by_engine in medians.items():
        for name, stages in by_engine.items():
            ratio = by_engine[reference]["total"] / stages["total"]
            rows.append([kind, name, *(stages[s] for s in STAGES), f"{ratio:.2f}x"])
    print(
        table(
            ["photo", "engine", *STAGES, "speed-up"],
            rows,
            f"Per stage, ms (median over {len(workloads['portrait'])} portraits and "
            f"{len(workloads['group'])} group photos, {repeats} alternating rounds, 1 thread)",
        ),
        "\n",
    )
    return medians


PARTS = ("limit", "sizes", "faces", "throughput", "engines")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    add_engine_options(parser)
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: " + ",".join(PARTS)
    )
    parser.add_argument("--portraits", type=int, default=30, help="for the engines table")
    add_full_precision_option(parser)
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    cv2.setNumThreads(1)  # as in a worker process
    settings = engine_settings(args)
    pipeline = load_pipeline(settings)
    print(f"engine {pipeline.engine.name}, precision {pipeline.engine.precision}\n")
    results: dict[str, Any] = {"engine": [pipeline.engine.name, pipeline.engine.precision]}
    if "limit" in parts:
        results["limit"] = limit_table(pipeline, args.eval_dir, args.repeats)
    if "sizes" in parts:
        results["sizes"] = size_scaling(pipeline, args.eval_dir, args.repeats)
    if "faces" in parts:
        results["faces"] = face_scaling(pipeline, args.repeats)
    if "throughput" in parts:
        results["throughput"] = scaling_table(args.eval_dir, settings)
    if "engines" in parts:
        results["engines"] = engines_table(
            settings, args.eval_dir, args.portraits, args.repeats, full_precision_options(args)
        )
    save("speed", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
