"""How right are the answers: each pack on labelled photos (../shared/eval) next to the reference
package, expressions, what each accuracy choice buys, and whether the fast engines and the ONNX
conversions change any answer."""
