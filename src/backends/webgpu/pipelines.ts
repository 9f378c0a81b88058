// The one pipeline cache: a compute pipeline per kernel and set of override constants,
// created on first use and kept for the backend's life. Each kernel is one file in
// shaders/ with entry point `main` and its bindings in group 0 (layout "auto").
//
// The tiled matmul (F16_PAIR_KERNELS) reads packed f16 weights as `array<F16Pair>`
// through `f16_pair`, defined here per device: without shader-f16 a pair is a u32 word
// unpacked with unpack2x16float; with it, the same word read as a native vec2<f16> (same
// memory layout, no re-upload), in modules and pipelines named `<kernel>.f16`. Sums stay
// f32 either way. The GEMV loads 16 bytes (vec4<u32>) at a time and unpacks its words on
// every device: a native read would take bitcast<vec2<f16>>(u32), which naga (Deno,
// Firefox) miscompiles (it reads the word as an f32), and the unpack costs nothing
// next to the load. Kernels over quantized weights (override BITS = 4 or 8) read the words
// as they are, so they take the u32 module.
//
// The GEMV kernels (GEMV_KERNELS) add a team of lanes' partial sums with `team_sum`,
// also defined here, once for all: one subgroup with subgroupAdd where the backend uses
// subgroups (modules named `<kernel>.subgroups`), else TEAM lanes through shared memory.
// Their input (gemv-in.wgsl, and x1 and start_input from INPUTS: plain, or with the
// residual add of LinearOptions.residual in modules `<kernel>.residual`) and epilogue
// (gemv-out.wgsl's finish_feature) are appended to each as well.
import argmax from "../../../shaders/argmax.wgsl?raw";
import attention from "../../../shaders/attention.wgsl?raw";
import attentionMerge from "../../../shaders/attention-merge.wgsl?raw";
import copyRows from "../../../shaders/copy-rows.wgsl?raw";
import embed from "../../../shaders/embed.wgsl?raw";
import gatherRows from "../../../shaders/gather-rows.wgsl?raw";
import geluMul from "../../../shaders/gelu-mul.wgsl?raw";
import gemv from "../../../shaders/gemv.wgsl?raw";
import gemvIn from "../../../shaders/gemv-in.wgsl?raw";
import gemvOut from "../../../shaders/gemv-out.wgsl?raw";
import gemvQ from "../../../shaders/gemv-q.wgsl?raw";
import layerNorm from "../../../shaders/layer-norm.wgsl?raw";
import matmul from "../../../shaders/matmul.wgsl?raw";
import patchify from "../../../shaders/patchify.wgsl?raw";
import rmsNorm from "../../../shaders/rms-norm.wgsl?raw";
import ropeAppend from "../../../shaders/rope-append.wgsl?raw";
import sample from "../../../shaders/sample.wgsl?raw";
import scatterRows from "../../../shaders/scatter-rows.wgsl?raw";
import softcap from "../../../shaders/softcap.wgsl?raw";

const SOURCES = {
  argmax,
  attention,
  "attention-merge": attentionMerge,
  "copy-rows": copyRows,
  embed,
  "gather-rows": gatherRows,
  "gelu-mul": geluMul,
  gemv,
  "gemv-q": gemvQ,
  "layer-norm": layerNorm,
  matmul,
  patchify,
  "rms-norm": rmsNorm,
  "rope-append": ropeAppend,
  sample,
  "scatter-rows": scatterRows,
  softcap,
};

export type Kernel = keyof typeof SOURCES;

const F16_PAIR_KERNELS: readonly Kernel[] = ["matmul"];
const GEMV_KERNELS: readonly Kernel[] = ["gemv", "gemv-q"];

/**
 * The declarations appended to those kernels: how a weight word is read, without and with
 * shader-f16. `f32_word` reads matmul's f32 weights (W_F32), which always take the u32
 * module: WGSL's bitcast<f32>(vec2<f16>) is not in every compiler (Naga rejects it).
 */
const WORDS = {
  u32: `alias F16Pair = u32;
fn f16_pair(v: F16Pair) -> vec2<f32> { return unpack2x16float(v); }
fn f32_word(v: F16Pair) -> f32 { return bitcast<f32>(v); }
fn u32_word(v: F16Pair) -> u32 { return v; }
`,
  f16: `alias F16Pair = vec2<f16>;
fn f16_pair(v: F16Pair) -> vec2<f32> { return vec2<f32>(v); }
fn f32_word(v: F16Pair) -> f32 { return 0.0; } // unused: W_F32 pipelines take the u32 module
fn u32_word(v: F16Pair) -> u32 { return 0u; } // unused: BITS pipelines take the u32 module
`,
};

/**
 * The entry point's builtins (`Invocation`), a team's width and its sum, and SUBGROUPS
 * (whether a team is a subgroup), appended to the GEMV kernels, which define WG, ROWS,
 * MAX_ROWS and TEAM (a team's width in shared memory). A team's lanes are consecutive
 * local_invocation_index values; a subgroup is assumed to be such a run, as it is on
 * every implementation (WGSL leaves it unspecified), hence the uniformity diagnostic off.
 */
const TEAMS = {
  subgroups: {
    directives: "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n",
    code: `const SUBGROUPS = true;
struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_size) subgroup_size: u32,
}
fn team_lanes(i: Invocation) -> u32 { return min(i.subgroup_size, WG); }
fn team_sum(acc: array<f32, MAX_ROWS>, lid: u32, lanes: u32) -> array<f32, MAX_ROWS> {
  var sums: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    sums[r] = subgroupAdd(acc[r]);
  }
  return sums;
}
`,
  },
  shared: {
    directives: "",
    code: `const SUBGROUPS = false;
struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
}
var<workgroup> partial: array<f32, ROWS * WG>;
fn team_lanes(i: Invocation) -> u32 { return TEAM; }
// Called in uniform control flow: it holds barriers. Every lane gets its team's sums.
fn team_sum(acc: array<f32, MAX_ROWS>, lid: u32, lanes: u32) -> array<f32, MAX_ROWS> {
  for (var r = 0u; r < ROWS; r++) {
    partial[r * WG + lid] = acc[r];
  }
  workgroupBarrier();
  let lane = lid % TEAM;
  for (var stride = TEAM / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var r = 0u; r < ROWS; r++) {
        partial[r * WG + lid] += partial[r * WG + lid + stride];
      }
    }
    workgroupBarrier();
  }
  var sums: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    sums[r] = partial[r * WG + lid - lane]; // the team's lane 0 holds the sum
  }
  workgroupBarrier(); // the next turn writes partial again
  return sums;
}
`,
  },
};

/**
 * The GEMV kernels' x1(r, k), the input element they multiply, and start_input, which
 * every lane calls once, first, in uniform control flow (team_sum may hold barriers);
 * `keep` is true on the one team that stores x'. Plain: x as it is. Residual
 * (LinearOptions.residual): x' = x + add · s[r] · (1 + add_norm), s[r] =
 * 1 / sqrt(mean(add[r]²) + eps), which each team sums over the row first (the rows are
 * short next to the weight), and the keeping team stores x' to out as it reads it: team 0
 * of workgroup 0 of the first weight chunk, so out is written once and read by no other
 * workgroup. Its three bindings follow the kernel's own, from `first` on.
 */
const INPUTS = {
  plain: () => `fn x1(r: u32, k: u32) -> f32 { return x[r * p.k + k]; }
fn start_input(lid: u32, lanes: u32, keep: bool) {}
`,
  residual: (first: number) => `@group(0) @binding(${first}) var<storage, read> add: array<f32>;
@group(0) @binding(${first + 1}) var<storage, read> add_norm: array<u32>;
@group(0) @binding(${first + 2}) var<storage, read_write> out: array<f32>;
var<private> add_scale: array<f32, MAX_ROWS>;
var<private> keeps: bool;
fn start_input(lid: u32, lanes: u32, keep: bool) {
  var ss: array<f32, MAX_ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    ss[r] = 0.0;
    for (var k = lid % lanes; k < p.k; k += lanes) {
      let a = add[r * p.k + k];
      ss[r] = fma(a, a, ss[r]);
    }
  }
  let sums = team_sum(ss, lid, lanes);
  for (var r = 0u; r < ROWS; r++) {
    add_scale[r] = inverseSqrt(sums[r] / f32(p.k) + p.eps);
  }
  keeps = keep;
}
fn x1(r: u32, k: u32) -> f32 {
  let at = r * p.k + k;
  let v = x[at] + add[at] * add_scale[r] * (1.0 + unpack2x16float(add_norm[k >> 1u])[k & 1u]);
  if (keeps) {
    out[at] = v;
  }
  return v;
}
`,
};
/** Each GEMV kernel's first binding after its own: where INPUTS.residual's go. */
const RESIDUAL_BINDING: Partial<Record<Kernel, number>> = { gemv: 6, "gemv-q": 7 };

/**
 * attention's rows of HD f32 values (`Elem`, load_<name>, store_<name>, see attention.wgsl):
 * vec4 loads where HD % 4 == 0 (modules `<kernel>`), else f32s gathered into zero-padded
 * vec4s (modules `<kernel>.unaligned`), so the kernels take any head dim.
 */
const ROW_KERNELS: Partial<Record<Kernel, { loads: string[]; stores: string[] }>> = {
  attention: { loads: ["q", "k", "v"], stores: ["out"] },
  "attention-merge": { loads: ["partial"], stores: ["out"] },
};
function rowAccess(aligned: boolean, { loads, stores }: { loads: string[]; stores: string[] }): string {
  if (aligned) {
    return [
      "alias Elem = vec4<f32>;",
      ...loads.map((n) => `fn load_${n}(row: u32, d: u32) -> vec4<f32> { return ${n}[row * HD4 + d]; }`),
      ...stores.map((n) => `fn store_${n}(row: u32, d: u32, x: vec4<f32>) { ${n}[row * HD4 + d] = x; }`),
    ].join("\n");
  }
  const lanes = (body: string) => `for (var c = 0u; c < 4u; c++) { if (4u * d + c < HD) { ${body} } }`;
  return [
    "alias Elem = f32;",
    ...loads.map((n) => `fn load_${n}(row: u32, d: u32) -> vec4<f32> { var x = vec4<f32>(0.0); ${lanes(`x[c] = ${n}[row * HD + 4u * d + c];`)} return x; }`),
    ...stores.map((n) => `fn store_${n}(row: u32, d: u32, x: vec4<f32>) { ${lanes(`${n}[row * HD + 4u * d + c] = x[c];`)} }`),
  ].join("\n");
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Whether the tiled matmul reads weights as native f16 (the device has shader-f16). */
  readonly f16: boolean;

  /**
   * `onError` receives the compile or validation error of a pipeline, which WebGPU reports
   * asynchronously; `subgroups`: the GEMV kernels add with subgroupAdd.
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly onError: (e: Promise<GPUError | null>, what: string) => void,
    private readonly subgroups: boolean,
  ) {
    this.f16 = device.features.has("shader-f16");
  }

  /** `residual`: a GEMV kernel's residual-input module (INPUTS). */
  get(kernel: Kernel, constants: Record<string, number> = {}, residual = false): GPUComputePipeline {
    const pairs = F16_PAIR_KERNELS.includes(kernel);
    const f16 = pairs && this.f16 && !constants.W_F32 && !constants.BITS;
    const team = GEMV_KERNELS.includes(kernel) ? TEAMS[this.subgroups ? "subgroups" : "shared"] : null;
    const rows = ROW_KERNELS[kernel];
    const aligned = !rows || (constants.HD ?? 64) % 4 === 0;
    const name = [kernel, f16 && "f16", team && this.subgroups && "subgroups", residual && "residual", !aligned && "unaligned"].filter(Boolean).join(".");
    const key = `${name}${Object.keys(constants).length ? JSON.stringify(constants) : ""}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      this.device.pushErrorScope("validation");
      let module = this.modules.get(name);
      if (!module) {
        // Declarations may follow their use in WGSL; directives (enable) must come first.
        let code: string = SOURCES[kernel];
        if (pairs) code = f16 ? `enable f16;\n${code}\n${WORDS.f16}` : `${code}\n${WORDS.u32}`;
        if (team) {
          const input = residual ? INPUTS.residual(RESIDUAL_BINDING[kernel]!) : INPUTS.plain();
          code = `${team.directives}${code}\n${team.code}\n${input}\n${gemvIn}\n${gemvOut}`;
        }
        if (rows) code = `${code}\n${rowAccess(aligned, rows)}\n`;
        module = this.device.createShaderModule({ label: name, code });
        this.modules.set(name, module);
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
