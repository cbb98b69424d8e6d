#!/usr/bin/env node
'use strict';
// TFLite oracle: run a .tflite model in the real TFLite interpreter (WebAssembly build
// shipped by @tensorflow/tfjs-tflite) on .npy inputs and dump outputs as .npy.
//
//   node run.js MODEL.tflite [IN0.npy | NAME=IN.npy ...] --out OUTDIR [options]
//
// See README.md for options and limitations.

const fs = require('fs');
const path = require('path');
const { parseModel } = require('./lib/tflite_fb');
const { loadModule, Runner, countKernels, assertNoXnnpack } = require('./lib/runtime');
const { feedInput, copyOutput, writeOutput } = require('./lib/tensors');

const USAGE = `usage: node run.js MODEL.tflite [INPUT.npy | NAME=INPUT.npy ...] [--out OUTDIR] [options]
options:
  --out DIR        write DIR/output_K.npy (one per model output) and DIR/meta.json
  --no-xnnpack     do not apply TFLite's default XNNPACK delegate: builtin TFLite kernels only
  --variant V      simd (default) | nosimd   which WebAssembly build to run
  --threads N      numThreads passed to TFLite (default 1; these builds are single-threaded)
  --repeat N       invoke N times (same inputs) and report the mean invoke time
  --info           load the model, print tensor info, do not invoke
  --cast           allow float64->float32 and int64->int32 input conversion
  --no-profile     do not enable the TFLite profiler (then executed kernels are not reported)
  --json           print the summary as JSON on stdout (human text goes to stderr)
  --quiet          print nothing but errors
  --verbose        also print TFLite's log lines and the profiler summary`;

function parseArgs(argv) {
  const o = { inputs: [], out: null, xnnpack: true, variant: 'simd', threads: 1, repeat: 1, info: false,
    cast: false, profile: true, json: false, quiet: false, verbose: false, model: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--out' || a === '-o') o.out = next();
    else if (a === '--no-xnnpack') o.xnnpack = false;
    else if (a === '--xnnpack') o.xnnpack = true;
    else if (a === '--variant') o.variant = next();
    else if (a === '--threads') o.threads = parseInt(next(), 10);
    else if (a === '--repeat') o.repeat = Math.max(1, parseInt(next(), 10));
    else if (a === '--info') o.info = true;
    else if (a === '--cast') o.cast = true;
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--json') o.json = true;
    else if (a === '--quiet' || a === '-q') o.quiet = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}\n${USAGE}`);
    else if (!o.model) o.model = a;
    else o.inputs.push(a);
  }
  if (!o.model) throw new Error(USAGE);
  return o;
}

const fmtQ = q => !q ? '' : (q.scale.length <= 1 && q.zeroPoint.length <= 1)
  ? ` scale=${q.scale[0]} zero_point=${q.zeroPoint[0]}`
  : ` per-axis(dim ${q.quantizedDimension}) scales=[${q.scale.slice(0, 4).join(', ')}${q.scale.length > 4 ? ', ...' : ''}] (${q.scale.length}) zero_points=[${q.zeroPoint.slice(0, 4).join(', ')}${q.zeroPoint.length > 4 ? ', ...' : ''}]`;

function preview(arr, n = 8) {
  const v = Array.from(arr.subarray(0, n), x => (typeof x === 'number' && !Number.isInteger(x)) ? +x.toPrecision(7) : x);
  return `[${v.join(', ')}${arr.length > n ? ', ...' : ''}]`;
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const say = (...a) => { if (!opt.quiet) (opt.json ? console.error : console.log)(...a); };
  const tfliteLog = [];
  const summary = { model: path.resolve(opt.model), inputs: [], outputs: [], timingMs: {} };

  const modelBytes = fs.readFileSync(opt.model);
  let fbModel = null;
  try { fbModel = parseModel(modelBytes); } catch (e) { summary.flatbufferParseError = String(e.message || e); }
  const sg0 = fbModel && fbModel.subgraphs[0];
  const fbTensor = id => (sg0 && sg0.tensors[id]) || null;

  let t0 = process.hrtime.bigint();
  const ms = () => { const t1 = process.hrtime.bigint(); const d = Number(t1 - t0) / 1e6; t0 = t1; return +d.toFixed(3); };
  const { M, info } = await loadModule({ variant: opt.variant, xnnpack: opt.xnnpack, log: s => tfliteLog.push(s) });
  summary.timingMs.loadWasm = ms();
  summary.runtime = { ...info, numThreads: opt.threads, package: '@tensorflow/tfjs-tflite 0.0.1-alpha.10' };
  for (const w of info.warnings) console.error('warning:', w);

  let runner;
  try {
    runner = new Runner(M, modelBytes, { numThreads: opt.threads, profile: opt.profile });
  } catch (e) {
    summary.error = e.message; summary.tfliteLog = tfliteLog;
    console.error(`error: ${e.message}`);
    if (tfliteLog.length) console.error(tfliteLog.map(s => '  [tflite] ' + s).join('\n'));
    if (opt.json) console.log(JSON.stringify(summary, null, 1));
    process.exit(2);
  }
  summary.timingMs.createInterpreter = ms();

  const ins = runner.inputs();
  const outs = runner.outputs();
  const describe = (t, kind, k) => {
    const ti = runner.tensorInfo(t);
    const fbt = fbTensor(ti.id);
    const rec = { index: k, tensor: ti.id, name: ti.name, dtype: ti.dtype, shape: ti.shape,
      quantization: fbt ? fbt.quant : undefined };
    say(`${kind} ${k}: tensor ${ti.id} '${ti.name}' ${ti.dtype} [${ti.shape.join(',')}]${fmtQ(fbt && fbt.quant)}`);
    return rec;
  };
  say(`model: ${opt.model} (${modelBytes.length} bytes)` + (fbModel
    ? `, schema v${fbModel.version}, ${fbModel.subgraphs.length} subgraph(s), ops: ${summarizeOps(fbModel)}` : ''));
  say(`runtime: ${info.wasmFile} (${opt.variant}), XNNPACK default delegate ${opt.xnnpack ? 'ON' : 'OFF (patched out)'}, numThreads=${opt.threads}`);
  summary.inputs = ins.map((t, k) => describe(t, 'input ', k));
  summary.outputs = outs.map((t, k) => describe(t, 'output', k));
  if (fbModel) summary.ops = fbModel.subgraphs[0].operators.map(op => fbModel.opcodes[op.opcodeIndex] && fbModel.opcodes[op.opcodeIndex].name);

  if (opt.info) {
    finish(opt, summary, tfliteLog, runner);
    return;
  }

  // ---- bind inputs
  if (opt.inputs.length !== ins.length) {
    throw new Error(`model has ${ins.length} input(s) but ${opt.inputs.length} .npy file(s) were given`);
  }
  const byName = new Map(summary.inputs.map((r, k) => [r.name, k]));
  const bound = new Array(ins.length).fill(null);
  opt.inputs.forEach((arg, pos) => {
    let k = pos, file = arg;
    const eq = arg.indexOf('=');
    if (eq > 0 && byName.has(arg.slice(0, eq))) { k = byName.get(arg.slice(0, eq)); file = arg.slice(eq + 1); }
    if (bound[k]) throw new Error(`input ${k} bound twice`);
    bound[k] = file;
  });
  bound.forEach((file, k) => {
    const rec = summary.inputs[k];
    feedInput(ins[k], k, rec, file, { cast: opt.cast, warn: w => console.error(`warning: ${w}`) });
    rec.file = path.resolve(file);
  });
  summary.timingMs.setInputs = ms();

  // ---- invoke
  runner.infer();
  summary.timingMs.invokeFirst = ms();
  if (opt.repeat > 1) {
    for (let i = 1; i < opt.repeat; i++) runner.infer();
    summary.timingMs.invokeMean = +(ms() / (opt.repeat - 1)).toFixed(4);
    summary.timingMs.repeats = opt.repeat - 1;
  }

  // ---- outputs
  if (opt.out) fs.mkdirSync(opt.out, { recursive: true });
  outs.forEach((t, k) => {
    const rec = summary.outputs[k];
    const copy = copyOutput(t, k, rec);
    if (opt.out) rec.file = writeOutput(opt.out, k, rec, copy);
    say(`output ${k} values: ${preview(copy)}${opt.out ? `  -> ${path.join(opt.out, `output_${k}.npy`)}` : ''}`);
  });
  finish(opt, summary, tfliteLog, runner);
}

function summarizeOps(fbModel) {
  const counts = new Map();
  for (const op of fbModel.subgraphs[0].operators) {
    const name = (fbModel.opcodes[op.opcodeIndex] || { name: `opcode#${op.opcodeIndex}` }).name;
    counts.set(name, (counts.get(name) || 0) + 1);
  }
  return [...counts].map(([k, v]) => `${k} x${v}`).join(', ') || '(none)';
}

function finish(opt, summary, tfliteLog, runner) {
  const say = (...a) => { if (!opt.quiet) (opt.json ? console.error : console.log)(...a); };
  if (opt.profile && !opt.info) {
    const prof = runner.profilingResults();
    const counts = countKernels(prof);
    summary.executedKernels = Object.fromEntries(counts);
    summary.profile = prof.slice(0, 200).map(p => ({ nodeType: p.nodeType, nodeName: p.nodeName, ms: p.nodeExecMs }));
    say(`executed kernels (profiler, all invocations): ${[...counts].map(([k, v]) => `${k} x${v}`).join(', ') || '(none)'}`);
    if (!opt.xnnpack) assertNoXnnpack(counts, '--no-xnnpack');
    if (opt.verbose) say(runner.profilingSummary());
  }
  summary.tfliteLog = tfliteLog;
  if (opt.verbose && tfliteLog.length) say(tfliteLog.map(s => '[tflite] ' + s).join('\n'));
  const t = summary.timingMs;
  say(`timing (ms): load wasm ${t.loadWasm}, create interpreter ${t.createInterpreter}`
    + (t.invokeFirst !== undefined ? `, first invoke ${t.invokeFirst}` : '')
    + (t.invokeMean !== undefined ? `, mean invoke ${t.invokeMean} over ${t.repeats}` : ''));
  if (opt.out) fs.writeFileSync(path.join(opt.out, 'meta.json'), JSON.stringify(summary, null, 1));
  if (opt.json) console.log(JSON.stringify(summary, null, 1));
}

main().catch(e => {
  console.error(`error: ${e.message || e}`);
  process.exit(1);
});
