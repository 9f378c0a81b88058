// gemv-in: how the GEMVs read their input, one copy for gemv.wgsl and gemv-q.wgsl (the
// pipeline cache, pipelines.ts, appends it to both): x in fours, and NORM's gains. Not a
// kernel of its own: it reads the kernel's p.k and norm (bindings as in gemv.wgsl's
// header), its NORM, and x1 (an element of the input: x, or x plus the residual add;
// pipelines.ts's INPUTS).

/** x1(r, k .. k + 4), zero past K (gemv-q's padded last group). */
fn x4(r: u32, k: u32) -> vec4<f32> {
  if (k + 4u <= p.k) {
    return vec4<f32>(x1(r, k), x1(r, k + 1u), x1(r, k + 2u), x1(r, k + 3u));
  }
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (k + i < p.k) {
      v[i] = x1(r, k + i);
    }
  }
  return v;
}

/** 1 + norm[k] with NORM, else 1. */
fn gain(k: u32) -> f32 {
  if (NORM) {
    return 1.0 + unpack2x16float(norm[k >> 1u])[k & 1u];
  }
  return 1.0;
}

/** (1 + norm[k .. k + 4)) for k % 4 == 0 with NORM; 1 past K (the padding is never read) and without NORM. */
fn gain4(k: u32) -> vec4<f32> {
  if (!NORM) {
    return vec4<f32>(1.0);
  }
  if (k + 4u <= p.k) {
    return 1.0 + vec4<f32>(unpack2x16float(norm[k >> 1u]), unpack2x16float(norm[(k >> 1u) + 1u]));
  }
  var g = vec4<f32>(1.0);
  for (var i = 0u; i < 4u; i++) {
    if (k + i < p.k) {
      g[i] = gain(k + i);
    }
  }
  return g;
}
