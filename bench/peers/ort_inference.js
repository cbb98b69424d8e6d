// ONNX Runtime's side of bench/inference_bench.cc: runs the ONNX models torch_inference.py
// exported (the cnn in float32, and its oneDNN-PTQ int8 version as QLinear operators) at
// batch 256 with 1 and 2 intra-op threads and at batch 1 with 1 thread, and the int8
// MobileNetV2 at batch 1 with 1 thread when exported; each figure is the median of `runs` runs. Prints `RESULT onnxruntime <workload> <img/s> <ms/img>` lines.
//
//   node bench/peers/ort_inference.js NODE_MODULES ONNX_DIR [RUNS]
//
// NODE_MODULES holds onnxruntime-node, installed with `npm install --ignore-scripts
// onnxruntime-node` (its install script fetches GPU libraries).
const path = require('path');

async function medianSeconds(session, input, runs) {
  await session.run({x: input});  // warm-up
  const times = [];
  for (let r = 0; r < runs; ++r) {
    let reps = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    do {
      await session.run({x: input});
      ++reps;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    } while (elapsed < 0.2);
    times.push(elapsed / reps);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main() {
  const [modules, onnxDir, runsArg] = process.argv.slice(2);
  const ort = require(path.join(path.resolve(modules), 'onnxruntime-node'));
  const runs = Number(runsArg || 5);
  const version = require(path.join(path.resolve(modules), 'onnxruntime-node', 'package.json')).version;
  console.log(`onnxruntime-node ${version}`);
  const mobilenet = path.join(onnxDir, 'mobilenet_v2_int8.onnx');
  if (require('fs').existsSync(mobilenet)) {
    const session = await ort.InferenceSession.create(mobilenet, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const data = new Float32Array(3 * 224 * 224);
    for (let i = 0; i < data.length; ++i) data[i] = (i * 7919 % 256) / 255;
    const seconds = await medianSeconds(session, new ort.Tensor('float32', data, [1, 3, 224, 224]), runs);
    console.log(`RESULT onnxruntime mobilenet_v2 int8 b1 t1 ${(1 / seconds).toFixed(1)} ${(seconds * 1e3).toFixed(5)}`);
  }
  for (const label of ['int8', 'float']) {
    for (const [batch, threads] of [[256, 1], [256, 2], [1, 1]]) {
      const session = await ort.InferenceSession.create(path.join(onnxDir, `cnn_${label}.onnx`), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      const data = new Float32Array(batch * 784);
      for (let i = 0; i < data.length; ++i) data[i] = (i * 7919 % 256) / 255;
      const seconds = await medianSeconds(session, new ort.Tensor('float32', data, [batch, 1, 28, 28]), runs);
      console.log(`RESULT onnxruntime ${label} b${batch} t${threads} ${(batch / seconds).toFixed(1)} ` +
                  `${(seconds / batch * 1e3).toFixed(5)}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
