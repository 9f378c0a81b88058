// Types of rms-norm-run.js, for the Node tests that import it.

/** One call of the kernel; plain arrays so it travels as JSON to Deno and pages. */
export interface RmsNormCase {
  wgsl: string;
  rows: number;
  dim: number;
  eps: number;
  x: number[]; // [rows, dim]
  w: number[]; // [dim] f16 bits
  y: number[]; // [rows, dim] the residual the kernel adds to
}

/** What a runtime reports back: which adapter ran the kernel, and its output. */
export interface KernelRun {
  adapter: string;
  y: number[];
}

/** y = y + rmsNorm(x) * (1 + w) on `device`; resolves to the new y. */
export function runRmsNorm(device: GPUDevice, c: RmsNormCase): Promise<number[]>;

/** The way a web page or Deno gets a GPU: navigator.gpu, the default adapter. */
export function runOnNavigatorGpu(c: RmsNormCase): Promise<KernelRun>;
