// paligemma-edge/worker in browsers and Deno: the Web Worker a worker engine talks to
// (PaliGemma.load(source, { worker: true }) starts it; or `new Worker(...)` it yourself).
import { serveModel } from "./serve.js";

const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer: unknown[]): void;
  addEventListener(type: "message", listener: (event: { data: never }) => void): void;
};
serveModel(scope, (handle) => scope.addEventListener("message", (event) => handle(event.data)));
