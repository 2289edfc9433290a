"""The pipeline's accuracy choices as one value, so a benchmark can undo a choice by building other
options instead of patching module constants. The defaults are what readface ships."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Accuracy choices of the detector, the landmark box and the attribute models."""

    # res10 has a phantom: a box from about (0.56, 0.49) to past the bottom-right corner, scored
    # up to 0.99, on many plain portraits (70 of 246 congress photos). A real face is rarely cut
    # by two edges of the frame at once, so boxes that overhang two adjacent edges are dropped.
    corner_overhang: float = 0.015
    # Height / width of res10's boxes around real faces in ../shared/eval ranged from 0.94 to
    # 1.64; its false positives on torsos and posters are taller (2.2).
    aspect_limits: tuple[float, float] = (0.5, 2.0)

    # A face that is small in the 300x300 input (a group photo) may score below the threshold
    # there. Candidates scoring at least candidate_score are looked at again on a crop of
    # verify_context box sides around them, at verify_input, where the face is as large as res10
    # likes; they count when that closer look scores them at the threshold. On ../shared/eval the
    # closer look scored the 3 faces the single pass missed in groups at 0.67 to 1.0 and the 21
    # other candidates (portraits, plates, shirts) at 0.40 or less; it ran on 20 of 556 photos.
    candidate_score: float = 0.2
    verify_context: float = 2.5
    verify_input: tuple[int, int] = (200, 200)
    # Two boxes overlapping more than this (intersection over union) are the same face.
    same_face_iou: float = 0.3

    # dlib's five-point model was trained on dlib HOG-detector boxes, which are square, a little
    # smaller than res10's and lower on the face. Fitted on the 530 faces of ../shared/eval
    # (congress, utkface) where both detectors fire: centre offset in units of the res10 box's
    # mean side, and side ratio (`python -m bench.accuracy` measures the effect). With
    # hog_box False the landmark model gets the res10 box as it is.
    hog_box: bool = True
    hog_box_shift: tuple[float, float] = (0.004, 0.064)
    hog_box_side: float = 0.955

    # Test-time augmentation: each face is classified on chips cut with dlib's padding (0.2) and
    # a tighter one, and the probabilities averaged. On ../shared/eval it cut utkface's age MAE
    # from 7.60 to 7.17 years and raised congress gender accuracy from 97.6% to 98.4%, for ~4.5 ms
    # more per face; mirrored chips cost 10 ms more per face and made age worse
    # (`python -m bench.ablation`).
    cydral_paddings: tuple[float, ...] = (0.15, 0.2)
    # The networks' ages regress to the mean (children too old, the old too young by ~8 years).
    # A monotone map from the age expectation to years, fitted by isotonic regression on utkface
    # (exact ages) and sampled every 15 years, linear in between. Fitted on either half of
    # utkface it cut the other half's MAE from 7.0-7.3 to 6.6-6.7 years (a linear map: 6.8-7.1),
    # congress's from 9.1 to 7.4 and put 74% of congress in range, against 71% for the linear map
    # (`python -m bench.calibration`, `python -m bench.accuracy`). Knots every 5 years fit
    # utkface 0.2 years better but put 70% of congress in range.
    age_knots: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0, 60.0, 75.0)
    age_calibrated: tuple[float, ...] = (1.0, 11.09, 34.38, 49.3, 65.43, 74.33)

    # Levi-Hassner: context around the detector box; the networks were trained on loosely
    # cropped faces.
    levi_hassner_margin: float = 0.2


# What readface ships; benchmarks derive their variants from it.
SHIPPED = PipelineOptions()
