// Times one model in ONNX Runtime (onnxruntime-node, CPU) inside one process, for bench/compare_ort.py.
//   node bench/ort_bench.js MODEL [--threads N] [--warmup W] [--iters K] [--out DIR] [NAME=FILE.npy | FILE.npy]...
// Loads the model once (intraOpNumThreads N, interOpNumThreads 1, sequential execution, all graph optimizations),
// runs it once (first_run_ms), W more untimed, then K timed runs, and prints one JSON line:
//   {"runtime":"onnxruntime","version":"1.30.0","threads":N,"load_ms":x,"first_run_ms":x,"latencies_ms":[...],
//    "cpu_times_ms":[...]}   (cpu_times_ms: the process's user+system CPU time during each timed run)
// With --out, the first run's outputs go to DIR/<name>.npy with DIR/outputs.json (the `nnport run -o` layout, which
// `nnport bench --reference DIR` reads). Inputs without NAME bind by position. Exit 1 with a one-line reason on failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { ort, readNpy, writeNpy } = require('../tools/ort/ort_run.js');

function parseArgs(argv) {
  const a = { threads: 1, warmup: 2, iters: 10, out: '', specs: [] };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--threads') a.threads = Number(take());
    else if (flag === '--warmup') a.warmup = Number(take());
    else if (flag === '--iters') a.iters = Number(take());
    else if (flag === '--out') a.out = take();
    else if (flag.startsWith('--')) throw new Error(`unknown option ${flag}`);
    else if (!a.model) a.model = flag;
    else a.specs.push(flag);
  }
  for (const k of ['threads', 'warmup', 'iters']) {
    if (!Number.isInteger(a[k]) || a[k] < (k === 'warmup' ? 0 : 1)) throw new Error(`--${k} must be a whole number`);
  }
  if (!a.model) throw new Error('usage: ort_bench.js MODEL [--threads N] [--warmup W] [--iters K] [--out DIR] [INPUT]...');
  return a;
}

function msSince(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const opts = {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  const tLoad = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, opts);
  const loadMs = msSince(tLoad);
  const feeds = {};
  let pos = 0;
  for (const spec of a.specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && !fs.existsSync(spec);
    const name = named ? spec.slice(0, eq) : session.inputNames[pos++];
    if (name === undefined) throw new Error(`${spec}: more input files than the model has inputs`);
    feeds[name] = readNpy(named ? spec.slice(eq + 1) : spec);
  }
  for (const name of session.inputNames) {
    if (!(name in feeds)) throw new Error(`input '${name}' is not given`);
  }
  const tFirst = process.hrtime.bigint();
  const first = await session.run(feeds);
  const firstMs = msSince(tFirst);
  if (a.out) {
    fs.mkdirSync(a.out, { recursive: true });
    const index = [];
    for (const name of session.outputNames) {
      const file = name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy';
      writeNpy(path.join(a.out, file), first[name]);
      index.push({ name, file, dtype: first[name].type, shape: first[name].dims });
    }
    fs.writeFileSync(path.join(a.out, 'outputs.json'), JSON.stringify({ outputs: index }));
  }
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const lat = [];
  const cpu = [];
  for (let i = 0; i < a.iters; ++i) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    lat.push(msSince(t0));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  const pkg = path.join(__dirname, '../tools/ort/node_modules/onnxruntime-node/package.json');
  const version = JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
  process.stdout.write(
    JSON.stringify({
      runtime: 'onnxruntime',
      version,
      threads: a.threads,
      load_ms: loadMs,
      first_run_ms: firstMs,
      latencies_ms: lat,
      cpu_times_ms: cpu,
    }) + '\n',
  );
}

main().catch((e) => {
  console.error(`ort_bench: ${String(e.message || e).split('\n')[0]}`);
  process.exit(1);
});
