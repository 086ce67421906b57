// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on .npy inputs and writes each output as .npy.
//   node tools/ort/ort_run.js MODEL OUTDIR [NAME=FILE.npy | FILE.npy]...
//   node tools/ort/ort_run.js --batch JOBS.json     (JOBS: [{"model","out","inputs":[...]}]; one process, many models)
// Inputs without NAME bind by position among the model's inputs. Exit 1 with a one-line reason on failure; in batch
// mode every job gets OUT/outputs.json or OUT/error.txt and the exit status is 0.
// As a module (require), it exports { ort, readNpy, writeNpy } for bench/ort_bench.js.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '<i2': ['int16', Int16Array], '|i1': ['int8', Int8Array],
  '|u1': ['uint8', Uint8Array], '<u2': ['uint16', Uint16Array], '<u4': ['uint32', Uint32Array],
  '<u8': ['uint64', BigUint64Array], '|b1': ['bool', Uint8Array], '<f2': ['float16', Uint16Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const t = NPY_TYPES[descr];
  if (!t) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [type, Arr] = t;
  const bytes = buf.subarray(hstart + hlen);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  let data = new Arr(copy.buffer, 0, bytes.length / Arr.BYTES_PER_ELEMENT);
  if (type === 'bool') data = Uint8Array.from(data);
  return new ort.Tensor(type, type === 'bool' ? Array.from(data, (v) => v !== 0) : data, shape);
}

function writeNpy(file, tensor) {
  const descr = Object.keys(NPY_TYPES).find((k) => NPY_TYPES[k][0] === tensor.type);
  if (!descr) throw new Error(`output type ${tensor.type} cannot be written as .npy`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  let body;
  if (tensor.type === 'bool') body = Buffer.from(Uint8Array.from(tensor.data, (v) => (v ? 1 : 0)));
  else body = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(header, 'latin1'), body]));
}

async function runOne(model, outDir, specs) {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  const session = await ort.InferenceSession.create(model, opts);
  const feeds = {};
  let pos = 0;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && !fs.existsSync(spec);
    const name = named ? spec.slice(0, eq) : session.inputNames[pos++];
    feeds[name] = readNpy(named ? spec.slice(eq + 1) : spec);
  }
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  const index = [];
  for (const name of session.outputNames) {
    const file = name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy';
    writeNpy(path.join(outDir, file), results[name]);
    index.push({ name, file, dtype: results[name].type, shape: results[name].dims });
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify({ outputs: index }));
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--batch' && args.length === 2) {
    for (const job of JSON.parse(fs.readFileSync(args[1], 'utf8'))) {
      try {
        await runOne(job.model, job.out, job.inputs);
      } catch (e) {
        fs.mkdirSync(job.out, { recursive: true });
        fs.writeFileSync(path.join(job.out, 'error.txt'), String(e.message || e).split('\n')[0]);
      }
    }
    return;
  }
  const [model, outDir, ...specs] = args;
  if (!model || !outDir) {
    console.error('usage: ort_run.js MODEL OUTDIR [NAME=FILE.npy | FILE.npy]... | --batch JOBS.json');
    process.exit(2);
  }
  await runOne(model, outDir, specs);
}

module.exports = { ort, readNpy, writeNpy };

if (require.main === module) {
  main().catch((e) => {
    console.error(`ort_run: ${String(e.message || e).split('\n')[0]}`);
    process.exit(1);
  });
}
