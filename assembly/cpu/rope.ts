// Rotary position embedding in place, rotate-half convention (HF Gemma/PaliGemma):
// x [rows, heads, headDim] f32; positions i32 [rows]. For i < headDim/2 the pair
// (x[i], x[i + headDim/2]) is rotated by angle = pos · theta^(-2i/headDim).
// The frequency and the angle are rounded to f32 like the reference
// implementations (inv_freq is an f32 tensor there), then cos/sin are taken in
// f64 and rounded: at positions in the thousands the angle's f32 rounding is what
// the model was trained with.
export function rope(x: usize, positions: usize, rows: i32, heads: i32, headDim: i32, theta: f64): void {
  const half = headDim >> 1;
  const rowStride = <usize>heads * headDim;
  for (let i = 0; i < half; i++) {
    const invFreq = <f32>(1 / <f64>(<f32>Math.pow(theta, <f64>(2 * i) / <f64>headDim)));
    for (let r = 0; r < rows; r++) {
      const angle = <f32>(<f32>load<i32>(positions + (<usize>r << 2)) * invFreq);
      const c = <f32>Math.cos(angle);
      const s = <f32>Math.sin(angle);
      let p = x + ((<usize>r * rowStride + i) << 2);
      for (let h = 0; h < heads; h++, p += <usize>headDim << 2) {
        const a = load<f32>(p);
        const b = load<f32>(p + (<usize>half << 2));
        store<f32>(p, a * c - b * s);
        store<f32>(p + (<usize>half << 2), b * c + a * s);
      }
    }
  }
}
