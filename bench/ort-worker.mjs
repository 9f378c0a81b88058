// One onnxruntime-web session in a worker thread, for bench/wasm-matmul.ts: ort-web
// fixes its thread count (env.wasm.numThreads) once per module instance, so each
// thread count it is measured at gets its own worker, and so its own instance.
// Messages: { cmd: "load", model, type, x, dims } -> { ok }; { cmd: "run", want } ->
// { ms, y? }; errors come back as { error }.
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
      const t = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - t;
      const y = m.want ? out.Y.data : undefined;
      out.Y.dispose?.();
      parentPort.postMessage({ ms, y });
    }
  } catch (e) {
    parentPort.postMessage({ error: String(e?.message ?? e) });
  }
});
