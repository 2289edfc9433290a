"""Build-time conversions of model files OpenVINO cannot read (Caffe, TF.js, Keras) into ONNX,
each checked against the original; `readface models fetch` runs them. The run-time parts they
share with the detector (the prototxt reader, SSD's post-processing) live in worker/models/."""
