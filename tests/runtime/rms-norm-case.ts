// The Node side of the runtime tests: builds the one rms-norm case every runtime
// runs, and checks an output against the CPU reference (tests/reference/backend.ts).
import rmsNormWgsl from "../../shaders/rms-norm.wgsl?raw";
import { f32ArrayToF16 } from "../../src/weights/f16.js";
import { expectClose } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";
import type { RmsNormCase } from "./rms-norm-run.js";

// 3 rows of 1001: more rows than one, a row longer than the workgroup and odd, so no
// power-of-two workgroup size divides it, and an odd count of f16 weights (the last
// u32 half empty).
const ROWS = 3;
const DIM = 1001;

export function rmsNormCase(): RmsNormCase {
  const rand = rng(0x2f1);
  return {
    wgsl: rmsNormWgsl,
    rows: ROWS,
    dim: DIM,
    eps: 1e-6,
    x: Array.from(randomArray(rand, ROWS * DIM, 3)),
    w: Array.from(f32ArrayToF16(randomArray(rand, DIM, 0.5))),
    y: Array.from(randomArray(rand, ROWS * DIM)),
  };
}

// f32 sums over 1001 terms and WGSL's inverseSqrt (2 ULP) against f64 sums: SwiftShader
// is off by 5e-7 at most on outputs up to 3.5; a missing barrier is off by 5.
const TOLERANCE = { atol: 1e-5, rtol: 1e-5 };

/** Throws with the first mismatches unless `y` is the reference's rmsNorm of `c`. */
export async function expectRmsNorm(y: ArrayLike<number>, c: RmsNormCase, runtime: string): Promise<void> {
  const ref = new ReferenceBackend();
  const out = ref.alloc("y", c.y.length);
  const x = ref.alloc("x", c.x.length);
  ref.write(out, Float32Array.from(c.y));
  ref.write(x, Float32Array.from(c.x));
  ref.rmsNorm(out, x, ref.uploadWeight("w", Uint16Array.from(c.w), [c.dim]), c.rows, c.eps, { accumulate: true });
  expectClose(y, await ref.read(out), TOLERANCE, `rms-norm in ${runtime}`);
}
