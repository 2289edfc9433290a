"""The pipeline's accuracy choices as one value, so a benchmark can undo a choice by building other
options instead of patching module constants. The defaults are what readface ships.

Provenance: every value fitted to labelled photos is fitted on the congress portraits
of ../shared/eval only (US federal works, public domain; labels CC0), the one labelled set a
product may carry parameters from. utkface (non-commercial licence) and the group photos
(evaluation use only) only score the result. The tables cited are `python -m
bench.calibration.cydral_choices` (how each value was chosen) and `python -m
bench.calibration.faceapi` (what it does on congress, out of fold, and on utkface).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Accuracy choices of the detector, the landmark box and the attribute models."""

    # res10 has a phantom: a box from about (0.56, 0.49) to past the bottom-right corner, scored
    # up to 0.99, on many plain portraits. A real face is rarely cut by two edges of the frame at
    # once, so boxes that overhang two adjacent edges by more than this share of the frame are
    # dropped. On congress, the 105 boxes overhanging two edges (score >= 0.2) overhang by 0.0095
    # or more and no real face's box overhangs two edges at all: the tolerance sits below the
    # phantoms (0.015 would let one through on one portrait, at 0.0135).
    corner_overhang: float = 0.005
    # Height / width of res10's boxes around the congress faces ranges from 1.17 to 1.64; round
    # limits well outside it. Not fitted (res10's false positives on torsos and posters in the
    # evaluation-only group photos were taller, 2.2, which is why an upper limit exists).
    aspect_limits: tuple[float, float] = (0.5, 2.0)

    # A face that is small in the 300x300 input (a group photo) may score below the threshold
    # there. Candidates scoring at least candidate_score are looked at again on a crop of
    # verify_context box sides around them, at verify_input, where the face is as large as res10
    # likes; they count when that closer look scores them at the threshold. Chosen on the group
    # photos of ../shared/eval (evaluation only), not fitted to labels. Checked on public-domain
    # scenes of six shrunken congress portraits (bench.calibration.cydral_choices): portraits 120 /
    # 160 / 200 px wide, faces found 0 / 21 / 38 of 48 without the closer look, 9 / 36 / 41 with it
    # from 0.2, 47 / 48 / 49 from 0.1 (one box too many) at 6 to 13 times the time per scene.
    candidate_score: float = 0.2
    # The closer look's crop and input: round values (the crop gives the face res10's usual
    # context; at 200x200 the face is as large in the input as a portrait's is at 300x300).
    # Not fitted; 2 or 3 sides, 150 or 300 px found as many faces on those scenes.
    verify_context: float = 2.5
    verify_input: tuple[int, int] = (200, 200)
    # Two boxes overlapping more than this (intersection over union) are the same face. Not
    # fitted: a conventional suppression overlap, below res10's own (0.45, its deploy file's
    # nms_threshold), as the closer look's box and the candidate differ more than duplicates.
    same_face_iou: float = 0.3

    # dlib's five-point model was trained on dlib HOG-detector boxes, which are square, a little
    # smaller than res10's and lower on the face. Fitted on the 246 congress faces, where both
    # detectors fire on every one: the medians of the HOG box's centre offset (units of the res10
    # box's mean side) and of its side ratio, (0.0053, 0.0975) and 0.9123. With hog_box False
    # the landmark model gets the res10 box as it is.
    hog_box: bool = True
    hog_box_shift: tuple[float, float] = (0.005, 0.098)
    hog_box_side: float = 0.912

    # Test-time augmentation: each face is classified on chips cut with dlib's padding (0.2,
    # the networks' training geometry) and a tighter one, and the probabilities averaged. On
    # congress (age map fitted out of fold): gender 98.4% and 73.2% in range, against 97.6% and
    # 72.8% for 0.2 alone and 98.8% and 70.7% for 0.15 alone, for one more chip's forwards.
    # Mirrored chips cost twice as much for no gain (`python -m bench.accuracy.ablation` has the
    # costs).
    cydral_paddings: tuple[float, ...] = (0.15, 0.2)

    # The age map: years = np.interp(expectation over the age classes, age_knots, age_calibrated).
    # The network's expectation regresses to the mean (older people read younger), so the map is the
    # inverse of its response curve, fitted on congress's age ranges with a loss that is zero inside
    # a member's range and grows linearly outside (bench/calibration/fit.py: fit_age_map, knots
    # every 15 years from 25, where congress's youngest range starts; the identity below it, where
    # the labels say nothing; the response capped at the oldest class, 80). Fitted on each half, the
    # other half's in-range rate is 69.9% and 76.4%.
    age_knots: tuple[float, ...] = (0.0, 25.0, 33.3, 48.41, 68.95, 80.0)
    age_calibrated: tuple[float, ...] = (0.0, 25.0, 40.0, 55.0, 70.0, 85.0)
    # The network's age distribution is far too sure of itself: its 80% intervals held congress's
    # point guesses 32% of the time. age.range and age.confidence use
    # it spread by a Gaussian of this width in log(1 + years) (about a sixth of the age), fitted
    # on congress by maximising the probability it gives the labelled ranges (fit_age_spread;
    # the log form held out better than a Gaussian in years or a softmax temperature). Out of
    # fold, congress's 80% ranges hold the point guess 81.1% of the time.
    age_spread: float = 0.166
    # gender.confidence: the averaged probabilities' log-odds divided by this temperature, fitted
    # on congress (negative log-likelihood; 0.98 and 1.20 on its halves).
    gender_temperature: float = 1.114

    # face-api (the default pack): chips of 112x112 cut with dlib's geometry at these paddings,
    # the networks' outputs averaged over them. On congress (age map and spread fitted out of
    # fold, `python -m bench.calibration.faceapi`) one chip at 0.2 put 85.0% in range with MAE 5.19
    # against the House point guesses; 0.15 to 0.35 put 82.5-85.8% (MAE 5.08-5.56). Two chips
    # (0.2 and 0.3: 87.8%, MAE 5.00) would double the forwards per face.
    faceapi_paddings: tuple[float, ...] = (0.2,)
    # years = np.interp(the network's age, faceapi_age_knots, faceapi_age_calibrated): the
    # inverse of its response curve on congress, fitted as the cydral pack's age map is (it reads
    # older members younger: 69.35 for 70). Out of fold on congress: 85.0% in range against
    # 84.1% without, MAE 5.19 against 5.53, 80% ranges 15 years wide instead of 17; on utkface
    # (evaluation only) MAE 5.17 against 5.02.
    faceapi_age_knots: tuple[float, ...] = (0.0, 25.0, 39.19, 51.76, 69.35, 95.08)
    faceapi_age_calibrated: tuple[float, ...] = (0.0, 25.0, 40.0, 55.0, 70.0, 85.0)
    # The true age's spread around the estimate: sd = base + slope * years, fitted by maximum
    # likelihood of the House point guesses' residuals (slope >= 0). The fit is flat, about 6
    # years at any age (congress has nobody under 25 to show otherwise), and held out no worse
    # than a constant and better than a share of the estimate.
    faceapi_age_spread: tuple[float, float] = (5.903, 0.008)
    # P(male)'s log-odds are divided by this temperature, fitted on congress with Platt's
    # smoothed targets (the network is right on every congress face, and plain likelihood then
    # fits certainty); 0.946 and 0.985 on its halves.
    faceapi_gender_temperature: float = 0.791

    # Levi-Hassner: context around the detector box; the networks were trained on loosely
    # cropped faces. A round value, not fitted to any labels.
    levi_hassner_margin: float = 0.2

    # The networks (manifest roles) that compute in fp32 under `fast`, and under `int8`; the
    # others run in bf16 where the CPU has it (worker/models/engine.py). Measured, not fitted:
    # under `fast`, every network in bf16 flipped 4 utkface genders and failed
    # bench.accuracy.parity's accuracy gate; res10's bf16 and AgeGenderNet's flip 2 each, and
    # either alone holds it. AgeGenderNet is the one kept fp32 there, as res10 in bf16 is most of
    # `fast`'s speed. Under `int8` (res10 in int8), AgeGenderNet in bf16 holds every gate, and
    # saves 0.8 ms of a portrait's 11.8 and 5 ms of a group photo's 36 on a Xeon with AMX. The
    # expression networks are not gated. docs/models.md ("The pipeline") has the table; issue 30.
    full_precision: tuple[str, ...] = ("age_gender",)
    int8_full_precision: tuple[str, ...] = ()


# What readface ships; benchmarks derive their variants from it.
SHIPPED = PipelineOptions()

# The options that only post-process the networks' outputs, per pack kind (benchmarks refit them
# from cached outputs; every other option changes what the networks see).
CYDRAL_CALIBRATION = frozenset({"age_knots", "age_calibrated", "age_spread", "gender_temperature"})
FACEAPI_CALIBRATION = frozenset(
    {
        "faceapi_age_knots",
        "faceapi_age_calibrated",
        "faceapi_age_spread",
        "faceapi_gender_temperature",
    }
)
CALIBRATION_FIELDS = CYDRAL_CALIBRATION | FACEAPI_CALIBRATION
