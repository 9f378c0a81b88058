// One onnxruntime-web session in a worker thread, for bench/wasm-matmul.ts: ort-web
// fixes its thread count (env.wasm.numThreads) once per module instance, so each
// thread count it is measured at gets its own worker, and so its own instance.
// Messages: { cmd: "load", model, type, x, dims } -> { ok }; { cmd: "run", want, burstMs }
// -> { ms, y? }, ms the best of back-to-back runs over burstMs (at least two; one with
// want); errors come back as { error }.
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-web";

ort.env.wasm.numThreads = workerData.threads;
let session;
let feeds;
parentPort.on("message", async (m) => {
  try {
    if (m.cmd === "load") {
      await session?.release();
      session = undefined;
      session = await ort.InferenceSession.create(m.model, { executionProviders: ["wasm"] });
      feeds = { A: new ort.Tensor(m.type, m.x, m.dims) };
      parentPort.postMessage({ ok: true });
    } else if (m.cmd === "run") {
      let ms = Infinity;
      let y;
      const start = performance.now();
      for (let n = 0; m.want ? n < 1 : n < 2 || performance.now() - start < m.burstMs; n++) {
        const t = performance.now();
        const out = await session.run(feeds);
        ms = Math.min(ms, performance.now() - t);
        if (m.want) y = out.Y.data;
        out.Y.dispose?.();
      }
      parentPort.postMessage({ ms, y });
    }
  } catch (e) {
    parentPort.postMessage({ error: String(e?.message ?? e) });
  }
});
