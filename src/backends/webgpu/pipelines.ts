// The one pipeline cache: a compute pipeline per kernel and set of override constants,
// created on first use and kept for the backend's life. Each kernel is one file in
// shaders/ with entry point `main` and its bindings in group 0 (layout "auto").
import argmax from "../../../shaders/argmax.wgsl?raw";
import attention from "../../../shaders/attention.wgsl?raw";
import embed from "../../../shaders/embed.wgsl?raw";
import gatherRows from "../../../shaders/gather-rows.wgsl?raw";
import geluMul from "../../../shaders/gelu-mul.wgsl?raw";
import gemv from "../../../shaders/gemv.wgsl?raw";
import gemvSubgroups from "../../../shaders/gemv-subgroups.wgsl?raw";
import layerNorm from "../../../shaders/layer-norm.wgsl?raw";
import matmul from "../../../shaders/matmul.wgsl?raw";
import patchify from "../../../shaders/patchify.wgsl?raw";
import rmsNorm from "../../../shaders/rms-norm.wgsl?raw";
import rope from "../../../shaders/rope.wgsl?raw";
import sample from "../../../shaders/sample.wgsl?raw";
import scatterRows from "../../../shaders/scatter-rows.wgsl?raw";
import softcap from "../../../shaders/softcap.wgsl?raw";

const SOURCES = {
  argmax,
  attention,
  embed,
  "gather-rows": gatherRows,
  "gelu-mul": geluMul,
  gemv,
  "gemv-subgroups": gemvSubgroups,
  "layer-norm": layerNorm,
  matmul,
  patchify,
  "rms-norm": rmsNorm,
  rope,
  sample,
  "scatter-rows": scatterRows,
  softcap,
};

export type Kernel = keyof typeof SOURCES;

export class PipelineCache {
  private readonly modules = new Map<Kernel, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  /** `onError` receives the compile or validation error of a pipeline, which WebGPU reports asynchronously. */
  constructor(
    private readonly device: GPUDevice,
    private readonly onError: (e: Promise<GPUError | null>, what: string) => void,
  ) {}

  get(kernel: Kernel, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${kernel}${Object.keys(constants).length ? JSON.stringify(constants) : ""}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      this.device.pushErrorScope("validation");
      let module = this.modules.get(kernel);
      if (!module) {
        module = this.device.createShaderModule({ label: kernel, code: SOURCES[kernel] });
        this.modules.set(kernel, module);
      }
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: "auto",
        compute: { module, entryPoint: "main", constants },
      });
      this.onError(this.device.popErrorScope(), `pipeline ${key}`);
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }
}
