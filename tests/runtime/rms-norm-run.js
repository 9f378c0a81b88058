// Runs shaders/rms-norm.wgsl once on a GPUDevice and reads the result back: the
// kernel every runtime test runs, because its workgroup tree reduction needs working
// barriers and shared memory, and its weights are f16 packed in u32 (unpack2x16float),
// which runs without the shader-f16 feature SwiftShader lacks.
// Plain JavaScript with no imports, so Node, Deno and a browser page load this same
// file as it is; its types are in rms-norm-run.d.ts.

/** @type {import("./rms-norm-run.js").runRmsNorm} */
export async function runRmsNorm(device, c) {
  // A shader that fails to compile would otherwise show up only as zeros read back.
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label: "rms-norm", code: c.wgsl });
  const pipeline = device.createComputePipeline({
    label: "rms-norm",
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });

  const params = new ArrayBuffer(16); // struct Params { rows, dim, eps, accumulate }
  new Uint32Array(params, 0, 2).set([c.rows, c.dim]);
  new Float32Array(params, 8, 1)[0] = c.eps;
  new Uint32Array(params, 12, 1)[0] = 1;
  const w = new Uint16Array(c.w.length + (c.w.length & 1)); // whole u32 words
  w.set(c.w);

  const upload = (label, data, usage) => {
    const buffer = device.createBuffer({ label, size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  };
  const p = upload("rms-norm.params", new Uint8Array(params), GPUBufferUsage.UNIFORM);
  const y = upload("rms-norm.y", new Float32Array(c.y), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const x = upload("rms-norm.x", new Float32Array(c.x), GPUBufferUsage.STORAGE);
  const wb = upload("rms-norm.w", w, GPUBufferUsage.STORAGE);
  const readback = device.createBuffer({
    label: "rms-norm.readback",
    size: y.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });

  const encoder = device.createCommandEncoder({ label: "rms-norm" });
  const pass = encoder.beginComputePass({ label: "rms-norm" });
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      label: "rms-norm",
      layout: pipeline.getBindGroupLayout(0),
      entries: [p, y, x, wb].map((buffer, binding) => ({ binding, resource: { buffer } })),
    }),
  );
  pass.dispatchWorkgroups(c.rows); // one workgroup per row
  pass.end();
  encoder.copyBufferToBuffer(y, 0, readback, 0, y.size);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU validation: ${error.message}`);

  await readback.mapAsync(GPUMapMode.READ);
  const out = Array.from(new Float32Array(readback.getMappedRange()));
  readback.unmap();
  for (const b of [p, y, x, wb, readback]) b.destroy();
  return out;
}

/** @type {import("./rms-norm-run.js").runOnNavigatorGpu} */
export async function runOnNavigatorGpu(c) {
  if (!navigator.gpu) throw new Error("navigator.gpu is missing: this runtime has WebGPU off");
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("navigator.gpu.requestAdapter() found no adapter");
  const device = await adapter.requestDevice({ label: "runtime test" });
  try {
    const y = await runRmsNorm(device, c);
    const { vendor, architecture, description } = adapter.info;
    return { adapter: [vendor, architecture, description].filter(Boolean).join(" "), y };
  } finally {
    device.destroy();
  }
}
