// ortweb-run.mjs runs an exported vimconvert model in onnxruntime-web (the
// WebAssembly build of ONNX Runtime) under Node, as a second runtime besides
// the native ONNX Runtime library: it loads MODEL.onnx, runs it on a float32
// NumPy image batch, writes the first output as a float32 .npy and prints the
// session load time and the run times.
//
// Setup (onnxruntime-web cannot load custom-op libraries, so only models
// without ai.vimconvert ops run here, e.g. `convert --scan standard`):
//
//	npm install --prefix /tmp/ortweb onnxruntime-web@1.30.0 --ignore-scripts
//	ORTWEB_DIR=/tmp/ortweb node scripts/ortweb-run.mjs vim_std.onnx x.npy logits.npy [runs]
//
// Compare the output with `vimconvert predict --model vim_std.onnx --input
// x.npy --output native.npy` (native ONNX Runtime) or `--checkpoint`.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

function usage(msg) {
  console.error(`ortweb-run: ${msg}\nusage: ORTWEB_DIR=DIR node scripts/ortweb-run.mjs MODEL.onnx IN.npy OUT.npy [runs]`);
  process.exit(2);
}

// readNpy parses a little-endian float32 C-order .npy (format 1.0-3.0).
function readNpy(path) {
  let buf;
  try {
    buf = readFileSync(path);
  } catch (e) {
    usage(`${path}: ${e.message}`);
  }
  if (buf.length < 10 || buf.toString('latin1', 1, 6) !== 'NUMPY') usage(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) usage(`${path}: dtype is not little-endian float32: ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) usage(`${path}: Fortran order is not supported`);
  const m = header.match(/'shape':\s*\(([^)]*)\)/);
  if (!m) usage(`${path}: no shape in header ${header.trim()}`);
  const shape = m[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (buf.length - off !== 4 * count) usage(`${path}: ${buf.length - off} data bytes for shape [${shape}]`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { shape, data };
}

// writeNpy writes a float32 array as a version 1.0 .npy file.
function writeNpy(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

const [model, input, output, runsArg] = process.argv.slice(2);
if (!model || !input || !output) usage('missing arguments');
const runs = runsArg === undefined ? 3 : Number(runsArg);
if (!Number.isInteger(runs) || runs < 1) usage(`runs ${runsArg}: want a positive integer`);
const dir = process.env.ORTWEB_DIR;
if (!dir) usage('set ORTWEB_DIR to the folder where onnxruntime-web was installed');
const entry = createRequire(join(dir, 'package.json')).resolve('onnxruntime-web');
const ort = await import(pathToFileURL(entry).href);

ort.env.wasm.numThreads = 1; // Node without cross-origin isolation: one wasm thread
const x = readNpy(input);
let t0 = performance.now();
let session;
try {
  session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
} catch (e) {
  // e.g. "ai.vimconvert:SelectiveScanBidirectional(-1) is not a registered function/op" for a plugin model
  console.error(`ortweb-run: ${model}: onnxruntime-web cannot load it: ${String(e.message ?? e).split('\n')[0]}`);
  process.exit(1);
}
const loadMS = performance.now() - t0;
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
const times = [];
let out;
for (let i = 0; i < runs; i++) {
  t0 = performance.now();
  out = await session.run(feeds);
  times.push(performance.now() - t0);
}
const name = session.outputNames[0];
const y = out[name];
writeNpy(output, y.dims, y.data);
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  runtime: `onnxruntime-web ${ort.env.versions?.web ?? '?'} (wasm, 1 thread)`,
  model, output: name, shape: y.dims, load_ms: +loadMS.toFixed(1),
  run_ms_median: +times[Math.floor(times.length / 2)].toFixed(1), run_ms_min: +times[0].toFixed(1), runs,
}));
