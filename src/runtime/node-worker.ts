// paligemma-edge/worker in Node (and Deno's node:worker_threads): the worker thread a
// worker engine talks to, with the Node entry's file system, codecs and WebGPU.
import { parentPort } from "node:worker_threads";
import { serveModel } from "../worker/serve.js";
import "./node.js";

if (!parentPort) throw new Error("paligemma-edge/worker runs in a worker thread: new Worker(...) it, or load with { worker: true }");
const port = parentPort;
serveModel(port, (handle) => port.on("message", handle));
