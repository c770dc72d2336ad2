// An independent reference for the TF.js importer: runs a TF.js graph model
// with TensorFlow.js itself (no network: the model and its weight shards are
// read from disk through a custom IOHandler).
//
//   node tfjs_reference.mjs MODEL.json INPUT.f32 OUTDIR [--backend wasm|cpu]
//                           [--repeat N]
//
// INPUT.f32 holds raw little-endian float32 values in the layout of the
// model's own input tensor (for NanoDet: NCHW [1,3,416,416]). Every output of
// the model's signature, sorted by name, is written to OUTDIR/output_<i>.f32
// (raw float32, row-major); OUTDIR/outputs.json lists their names and
// shapes, and the time per run in milliseconds (with --repeat N > 1, the
// mean of N runs after one warm-up run).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';

function usage (message) {
  process.stderr.write(`tfjs_reference: ${message}\n` +
    'usage: node tfjs_reference.mjs MODEL.json INPUT.f32 OUTDIR [--backend wasm|cpu] [--repeat N]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
const positional = [];
let backend = 'wasm';
let repeat = 1;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--backend') backend = args[++i];
  else if (args[i] === '--repeat') repeat = parseInt(args[++i], 10);
  else positional.push(args[i]);
}
if (positional.length !== 3) usage('expected three arguments');
const [modelPath, inputPath, outDir] = positional;

// The custom IOHandler: the topology and the weight specs come from the JSON,
// the weight data is the concatenation of every shard in manifest order.
function fileHandler (jsonPath) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      const dir = path.dirname(jsonPath);
      const weightSpecs = [];
      const shards = [];
      for (const group of json.weightsManifest ?? []) {
        weightSpecs.push(...group.weights);
        for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(shards);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs,
        weightData,
      };
    },
  };
}

if (backend === 'wasm') {
  const require = createRequire(import.meta.url);
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(wasmDir + path.sep);
}
if (!(await tf.setBackend(backend))) usage(`backend ${backend} unavailable`);
await tf.ready();

const model = await loadGraphModel(fileHandler(modelPath));
const signature = JSON.parse(fs.readFileSync(modelPath, 'utf8')).signature ?? {};

// Input: the signature's single input, or the graph's first input.
const inputInfo = model.inputs[0];
const inputShape = inputInfo.shape.map((d) => (d < 0 ? 1 : d));
const raw = fs.readFileSync(inputPath);
const count = inputShape.reduce((a, b) => a * b, 1);
if (raw.byteLength !== count * 4) usage(`${inputPath}: expected ${count * 4} bytes for shape [${inputShape}], got ${raw.byteLength}`);
const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const input = tf.tensor(values, inputShape, 'float32');

// Outputs: signature outputs sorted by name (the importer's order).
let outputNames = Object.keys(signature.outputs ?? {}).sort();
if (outputNames.length === 0) outputNames = model.outputs.map((o) => o.name).sort();

let outputs;
// With --repeat, one untimed run first: the first run compiles kernels.
if (repeat > 1) {
  const warm = await model.executeAsync({ [inputInfo.name]: input }, outputNames);
  (Array.isArray(warm) ? warm : [warm]).forEach((t) => t.dispose());
}
const start = process.hrtime.bigint();
for (let r = 0; r < repeat; r++) {
  if (outputs) outputs.forEach((t) => t.dispose());
  // executeAsync also runs graphs with dynamic ops (e.g. Where).
  outputs = await model.executeAsync({ [inputInfo.name]: input }, outputNames);
  if (!Array.isArray(outputs)) outputs = [outputs];
  await Promise.all(outputs.map((t) => t.data()));
}
const ms = Number(process.hrtime.bigint() - start) / 1e6 / repeat;

fs.mkdirSync(outDir, { recursive: true });
const listing = [];
for (let i = 0; i < outputs.length; i++) {
  const data = await outputs[i].data();
  fs.writeFileSync(path.join(outDir, `output_${i}.f32`),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  listing.push({ name: outputNames[i], shape: outputs[i].shape });
}
fs.writeFileSync(path.join(outDir, 'outputs.json'),
  JSON.stringify({ backend, ms_per_run: ms, outputs: listing }, null, 1));
