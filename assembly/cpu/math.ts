// Vector exp, tanh and GELU for the kernels, f32x4 in and out; the scalar forms
// run the same vector code on one lane so every element sees one implementation.
//
// exp: Cephes-style range reduction x = n·ln2 + r (ln2 split in two so n·ln2 is
// exact), a degree-6 polynomial for e^r on |r| <= ln2/2, and 2^n built in the
// exponent bits. Max relative error ~2 ulp. Inputs are clamped to [-87.3, 88.3]
// so 2^n stays a normal f32: exp of very negative inputs is ~1e-38, not 0, which
// no caller can tell from 0 after adding it to anything of order 1.

@inline
export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** tanh(z) = sign(z) (1 - e) / (1 + e) with e = exp(-2|z|) in (0, 1]: never overflows. */
@inline
export function tanh4(z: v128): v128 {
  const e = exp4(f32x4.mul(f32x4.abs(z), f32x4.splat(-2)));
  const t = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  return v128.or(t, v128.and(z, i32x4.splat(0x80000000)));
}

/**
 * GELU, tanh approximation: 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x³),
 * computed as x / (1 + exp(-2u)), the same value without tanh's cancellation.
 */
@inline
export function gelu4(x: v128): v128 {
  const u = f32x4.mul(x, f32x4.add(f32x4.splat(0.7978845608), f32x4.mul(f32x4.mul(x, x), f32x4.splat(0.0356774081))));
  return f32x4.div(x, f32x4.add(f32x4.splat(1), exp4(f32x4.mul(u, f32x4.splat(-2)))));
}

@inline
export function expf(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

@inline
export function tanhf(x: f32): f32 {
  return f32x4.extract_lane(tanh4(f32x4.splat(x)), 0);
}

@inline
export function geluf(x: f32): f32 {
  return f32x4.extract_lane(gelu4(f32x4.splat(x)), 0);
}
