"""Where the shipped calibration constants come from: each pack's networks' outputs cached once
for the labelled photos, then every map, spread and temperature fitted on one half of congress
and scored on the other (and on utkface, for evaluation only)."""
