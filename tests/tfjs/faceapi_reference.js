// face-api.js's own AgeGenderNet and FaceExpressionNet, run by TensorFlow.js (pure-JavaScript CPU
// backend) under Node on the weights the model pack fetched: the reference the ONNX conversion
// is checked against (tests/unit/test_faceapi_parity.py).
//
// usage: node faceapi_reference.js REFERENCE_DIR MODEL_DIR CHIPS
//   REFERENCE_DIR: tf.min.js and face-api.node-wasm.js (scripts/fetch-tfjs.sh)
//   CHIPS: N x 112 x 112 x 3 RGB bytes, the chips the pipeline cut
// prints {"age": [N], "gender": [[male, female] x N], "expression": [[7] x N]}
'use strict';
const fs = require('fs');
const Module = require('module');
const path = require('path');

const [referenceDir, modelDir, chipsPath] = process.argv.slice(2);
const tf = require(path.join(referenceDir, 'tf.min.js'));
// face-api's Node build requires these by name: give it this TF.js (the wasm backend is not used).
const load = Module._load;
Module._load = function loadWithTfjs(request, parent, isMain) {
  if (request === '@tensorflow/tfjs') return tf;
  if (request === '@tensorflow/tfjs-backend-wasm') return {};
  return load.call(this, request, parent, isMain);
};
const faceapi = require(path.join(referenceDir, 'face-api.node-wasm.js'));

const SIZE = 112;

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  const bytes = fs.readFileSync(chipsPath);
  const count = bytes.length / (SIZE * SIZE * 3);
  const chips = tf.tensor4d(Int32Array.from(bytes), [count, SIZE, SIZE, 3], 'int32');
  const input = await faceapi.toNetInput(tf.unstack(chips));
  const { age, gender } = faceapi.nets.ageGenderNet.forwardInput(input);
  const expression = faceapi.nets.faceExpressionNet.forwardInput(input);
  process.stdout.write(JSON.stringify({
    age: Array.from(await age.data()),
    gender: await gender.array(),
    expression: await expression.array(),
  }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
