// A GPUDevice that counts the API calls made through it: objects created (buffers, bind
// groups, pipelines) and the per-step work (compute dispatches, queue submits and
// writeBuffers). The device, its queue, command encoders and compute passes are wrapped
// in proxies that count and forward to the real objects, so the work really runs.
// Copies into a mappable (MAP_READ) buffer are what comes back to JS: counted as
// "readback" (calls) and "readbackBytes".
export type Counts = Map<string, number>;

const MAP_READ = 0x1; // GPUBufferUsage.MAP_READ (Node's device comes without the globals)

const COUNTED = new Set([
  "createBuffer",
  "createBindGroup",
  "createComputePipeline",
  "createShaderModule",
  "createBindGroupLayout",
  "dispatchWorkgroups",
  "submit",
  "writeBuffer",
  "copyBufferToBuffer",
]);

/** Proxies `target`, counting COUNTED calls into `counts`; `wrap` may proxy a call's result. */
function counting<T extends object>(target: T, counts: Counts, wrap: (prop: string, result: unknown) => unknown = (_, r) => r): T {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t);
      if (typeof value !== "function") return prop === "queue" ? counting(value as GPUQueue, counts) : value;
      return (...args: unknown[]) => {
        const name = String(prop);
        if (COUNTED.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
        if (name === "copyBufferToBuffer" && ((args[2] as GPUBuffer).usage & MAP_READ) !== 0) {
          counts.set("readback", (counts.get("readback") ?? 0) + 1);
          counts.set("readbackBytes", (counts.get("readbackBytes") ?? 0) + (args[4] as number));
        }
        return wrap(name, value.apply(t, args));
      };
    },
  });
}

export function countingDevice(device: GPUDevice, counts: Counts = new Map()): { device: GPUDevice; counts: Counts } {
  const pass = (p: unknown) => counting(p as GPUComputePassEncoder, counts);
  const encoder = (e: unknown) => counting(e as GPUCommandEncoder, counts, (name, r) => (name === "beginComputePass" ? pass(r) : r));
  return { device: counting(device, counts, (name, r) => (name === "createCommandEncoder" ? encoder(r) : r)), counts };
}

/** The counts since `before` (a copy taken earlier). */
export function countsSince(counts: Counts, before: Counts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of counts) if (v !== (before.get(k) ?? 0)) out[k] = v - (before.get(k) ?? 0);
  return out;
}
