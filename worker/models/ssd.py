"""SSD's PriorBox and DetectionOutput in numpy, as cv2.dnn runs them for a Caffe deploy file, so
that a runtime with only the converted body (ONNX) gives cv2.dnn's `detection_out` rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.models.prototxt import Deploy, Layer, first, spatial_sizes


@dataclass(frozen=True, slots=True)
class PriorSpec:
    """One PriorBox layer: the blob whose cells it tiles and its box sizes."""

    feature_blob: str
    min_sizes: tuple[float, ...]
    max_sizes: tuple[float, ...]
    aspect_ratios: tuple[float, ...]  # besides 1, flipped ones included, in Caffe's order
    variances: tuple[float, float, float, float]
    step: float | None
    offset: float
    clip: bool


@dataclass(frozen=True, slots=True)
class DetectionSpec:
    """DetectionOutput's parameters (single shared location, CENTER_SIZE code)."""

    num_classes: int
    background_label: int
    nms_threshold: float
    top_k: int
    keep_top_k: int
    confidence_threshold: float
    clip: bool


@dataclass(frozen=True, slots=True)
class SsdSpec:
    """What the post-processing needs from a deploy prototxt."""

    deploy: Deploy
    priors: tuple[PriorSpec, ...]
    detection: DetectionSpec


def _prior_spec(layer: Layer) -> PriorSpec:
    block = layer.param("prior_box_param")
    ratios: list[float] = []
    for ratio in (float(r) for r in block.get("aspect_ratio", [])):
        # Caffe skips ratios equal (within 1e-6) to one already listed, 1 included.
        for candidate in (ratio, 1.0 / ratio) if first(block, "flip", True) else (ratio,):
            if all(abs(candidate - r) > 1e-6 for r in [1.0, *ratios]):
                ratios.append(candidate)
    variances = [float(v) for v in block.get("variance", [0.1])]
    if len(variances) == 1:  # one variance applies to all four coordinates
        variances *= 4
    step = first(block, "step")
    return PriorSpec(
        feature_blob=layer.bottoms[0],
        min_sizes=tuple(float(s) for s in block["min_size"]),
        max_sizes=tuple(float(s) for s in block.get("max_size", [])),
        aspect_ratios=tuple(ratios),
        variances=(variances[0], variances[1], variances[2], variances[3]),
        step=float(step) if step is not None else None,
        offset=float(first(block, "offset", 0.5)),
        clip=bool(first(block, "clip", False)),
    )


def ssd_spec(deploy: Deploy) -> SsdSpec:
    """The PriorBox layers (in the order DetectionOutput's prior Concat lists them) and the
    DetectionOutput parameters of a deploy file."""
    layers = {layer.tops[0]: layer for layer in deploy.layers}
    (detection,) = [layer for layer in deploy.layers if layer.type == "DetectionOutput"]
    block = detection.param("detection_output_param")
    if not first(block, "share_location", True) or first(block, "code_type") != "CENTER_SIZE":
        raise NotImplementedError("only shared-location CENTER_SIZE DetectionOutput is supported")
    if first(block, "variance_encoded_in_target", False):
        raise NotImplementedError("variance_encoded_in_target is not supported")
    prior_concat = layers[detection.bottoms[2]]
    nms = first(block, "nms_param", {})
    return SsdSpec(
        deploy=deploy,
        priors=tuple(_prior_spec(layers[blob]) for blob in prior_concat.bottoms),
        detection=DetectionSpec(
            num_classes=int(first(block, "num_classes")),
            background_label=int(first(block, "background_label_id", 0)),
            nms_threshold=float(first(nms, "nms_threshold", 0.3)),
            top_k=int(first(nms, "top_k", -1)),
            keep_top_k=int(first(block, "keep_top_k", -1)),
            confidence_threshold=float(first(block, "confidence_threshold", -np.inf)),
            clip=bool(first(block, "clip", False)),
        ),
    )


def _cell_priors(spec: PriorSpec, rows: int, cols: int, height: int, width: int) -> np.ndarray:
    sizes: list[tuple[float, float]] = []
    for index, smallest in enumerate(spec.min_sizes):
        sizes.append((smallest, smallest))
        if spec.max_sizes:
            side = float(np.sqrt(smallest * spec.max_sizes[index]))
            sizes.append((side, side))
        sizes.extend((smallest * np.sqrt(r), smallest / np.sqrt(r)) for r in spec.aspect_ratios)
    box = np.array(sizes, dtype=np.float32)  # (k, 2): width, height in pixels
    step_x = spec.step if spec.step is not None else width / cols
    step_y = spec.step if spec.step is not None else height / rows
    centre_x = (np.arange(cols, dtype=np.float32) + spec.offset) * np.float32(step_x)
    centre_y = (np.arange(rows, dtype=np.float32) + spec.offset) * np.float32(step_y)
    cx = np.broadcast_to(centre_x[None, :, None], (rows, cols, len(box)))
    cy = np.broadcast_to(centre_y[:, None, None], (rows, cols, len(box)))
    half_w, half_h = box[:, 0] * np.float32(0.5), box[:, 1] * np.float32(0.5)
    corners = np.stack(
        [
            (cx - half_w) / np.float32(width),
            (cy - half_h) / np.float32(height),
            (cx + half_w) / np.float32(width),
            (cy + half_h) / np.float32(height),
        ],
        axis=-1,
    ).reshape(-1, 4)
    return np.clip(corners, 0.0, 1.0) if spec.clip else corners


def prior_boxes(spec: SsdSpec, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Every prior as (xmin, ymin, xmax, ymax), relative, for an input of height x width, in
    the order of the heads' outputs; and each prior's four variances."""
    sizes = spatial_sizes(spec.deploy, height, width)
    boxes, variances = [], []
    for prior in spec.priors:
        rows, cols = sizes[prior.feature_blob]
        cells = _cell_priors(prior, rows, cols, height, width)
        boxes.append(cells)
        variances.append(np.tile(np.array(prior.variances, dtype=np.float32), (len(cells), 1)))
    return np.concatenate(boxes), np.concatenate(variances)


def _decode(loc: np.ndarray, priors: np.ndarray, variances: np.ndarray) -> np.ndarray:
    prior_w = priors[:, 2] - priors[:, 0]
    prior_h = priors[:, 3] - priors[:, 1]
    prior_cx = (priors[:, 0] + priors[:, 2]) / 2
    prior_cy = (priors[:, 1] + priors[:, 3]) / 2
    cx = variances[:, 0] * loc[:, 0] * prior_w + prior_cx
    cy = variances[:, 1] * loc[:, 1] * prior_h + prior_cy
    w = np.exp(variances[:, 2] * loc[:, 2]) * prior_w
    h = np.exp(variances[:, 3] * loc[:, 3]) * prior_h
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _area(boxes: np.ndarray) -> np.ndarray:
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return np.where((w < 0) | (h < 0), 0.0, w * h)


def _nms(boxes: np.ndarray, order: np.ndarray, threshold: float) -> list[int]:
    """Greedy NMS over `order` (score-descending indices): a box is kept unless it overlaps a
    kept one by more than threshold (intersection over union, relative coordinates). Each kept
    box strikes out the candidates it overlaps in one numpy pass, so the numpy calls grow with
    the boxes kept, not with the candidates (one call set per candidate cost 0.7 ms per image)."""
    candidates = boxes[order]
    areas = _area(candidates)
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for position in range(len(order)):
        if suppressed[position]:
            continue
        kept.append(int(order[position]))
        box = candidates[position]
        inter_w = np.minimum(box[2], candidates[:, 2]) - np.maximum(box[0], candidates[:, 0])
        inter_h = np.minimum(box[3], candidates[:, 3]) - np.maximum(box[1], candidates[:, 1])
        inter = np.where((inter_w > 0) & (inter_h > 0), inter_w * inter_h, 0.0)
        union = areas[position] + areas - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        suppressed |= overlap > threshold
    return kept


def head_blobs(deploy: Deploy) -> tuple[str, str]:
    """The loc and conf blobs DetectionOutput reads: the ONNX graph's two outputs."""
    (detection,) = [layer for layer in deploy.layers if layer.type == "DetectionOutput"]
    return detection.bottoms[0], detection.bottoms[1]


def detection_output(
    spec: SsdSpec,
    loc: np.ndarray,
    conf: np.ndarray,
    height: int,
    width: int,
    min_score: float = -np.inf,
    priors: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """cv2.dnn's `detection_out` for one image from the heads' outputs (flat `mbox_loc` and
    softmaxed `mbox_conf_flatten`): rows (image_id, label, score, x1, y1, x2, y2), relative,
    per label in ascending order, highest score first.

    With min_score, only the rows scoring at least that, the same as filtering the full rows:
    greedy NMS lets a box be suppressed only by higher-scoring ones, and top_k / keep_top_k keep
    the highest. It saves NMS over thousands of weak boxes (12 ms on a portrait). `priors`:
    prior_boxes(spec, height, width), when the caller keeps them."""
    params = spec.detection
    boxes_at, variances = priors if priors is not None else prior_boxes(spec, height, width)
    boxes = _decode(loc.reshape(-1, 4), boxes_at, variances)
    if params.clip:
        boxes = np.clip(boxes, 0.0, 1.0)
    scores = conf.reshape(len(boxes_at), params.num_classes)
    picked: list[tuple[float, int, int]] = []  # score, label, prior
    for label in range(params.num_classes):
        if label == params.background_label:
            continue
        column = scores[:, label]
        candidates = np.flatnonzero((column > params.confidence_threshold) & (column >= min_score))
        order = candidates[np.argsort(-scores[candidates, label], kind="stable")]
        if params.top_k > -1:
            order = order[: params.top_k]
        picked.extend(
            (float(scores[i, label]), label, i) for i in _nms(boxes, order, params.nms_threshold)
        )
    if params.keep_top_k > -1 and len(picked) > params.keep_top_k:
        picked = sorted(picked, key=lambda item: -item[0])[: params.keep_top_k]
    picked.sort(key=lambda item: (item[1], -item[0]))
    rows = [[0.0, float(label), score, *boxes[i]] for score, label, i in picked]
    return np.array(rows, dtype=np.float32).reshape(-1, 7)
