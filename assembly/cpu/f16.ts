// f16 -> f32 for weights stored as IEEE half bits. Exact for every finite f16
// (normals, subnormals, ±0); uploadWeight rejects inf and NaN, so the kernels need
// no fix-up for exponent 31 (that fix-up costs a third of the decode GEMV).
//
// The trick: sign-extend the 16 bits into an i32 and shift left by 13, which puts
// the f16 exponent and mantissa at f32 bit positions 27..13 with copies of the
// sign in bits 31..28. Masking keeps bit 31 (sign) and bits 27..13: an f32 equal
// to the f16 value times 2^-112 ("tiny"). Multiplying by 2^112 fixes the exponent
// and normalises subnormals in the same exact step. Callers that multiply the
// weight by something they can pre-scale (the GEMV's x) skip that multiply.
//
// The vector forms take lanes already sign-extended by v128.load16x4_s, so call
// sites keep the load's constant offset (folded into the address by the engine).

const TWO_112: f32 = 5.192296858534828e33;

/** f16 lanes (sign-extended i32x4) -> f32x4 of value · 2^-112. */
@inline
export function tinyF16x4(lanes: v128): v128 {
  return v128.and(i32x4.shl(lanes, 13), i32x4.splat(0x8fffe000));
}

/** f16 lanes (sign-extended i32x4) -> f32x4. */
@inline
export function widenF16x4(lanes: v128): v128 {
  return f32x4.mul(tinyF16x4(lanes), f32x4.splat(TWO_112));
}

/** Four f16 at ptr (8 bytes) as f32x4. */
@inline
export function f16x4(ptr: usize): v128 {
  return widenF16x4(v128.load16x4_s(ptr));
}

/** One f16 at ptr as f32 times 2^-112, by the same steps. */
@inline
export function tinyF16(ptr: usize): f32 {
  return reinterpret<f32>((<i32>load<i16>(ptr) << 13) & 0x8fffe000);
}

/** One f16 at ptr as f32. */
@inline
export function f16(ptr: usize): f32 {
  return tinyF16(ptr) * TWO_112;
}

/** Index of the first inf or NaN among n f16 at src, or -1 (uploadWeight's check). */
export function f16FirstNonFinite(src: usize, n: i32): i32 {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const e = v128.and(v128.load(src + (<usize>i << 1)), i16x8.splat(0x7c00));
    if (v128.any_true(i16x8.eq(e, i16x8.splat(0x7c00)))) break;
  }
  for (; i < n; i++) {
    if ((load<u16>(src + (<usize>i << 1)) & 0x7c00) == 0x7c00) return i;
  }
  return -1;
}
