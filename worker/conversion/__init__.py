"""Build-time conversions of model files OpenVINO cannot read (Caffe) into ONNX, and the numpy
post-processing that replaces the Caffe layers ONNX has no operator for."""
