// PaliGemma's pixel normalisation, as the HF SiglipImageProcessor computes it:
// rescale (x * (1/255) in f64, stored as f32), then (x - 0.5) / 0.5 in f32;
// interleaved RGB uint8 [pixels, 3] in, channels-first f32 [3, pixels] out.

const RESCALE: f64 = 1.0 / 255.0;
const MEAN: f32 = 0.5;
const STD: f32 = 0.5;

export function normalize(src: usize, pixels: i32, dst: usize): void {
  const plane = <usize>pixels << 2;
  for (let i = 0; i < pixels; i++) {
    const from = src + <usize>(i * 3);
    const to = dst + (<usize>i << 2);
    for (let c = 0; c < 3; c++) {
      const v = <f32>(<f64>load<u8>(from + <usize>c) * RESCALE);
      store<f32>(to + <usize>c * plane, (v - MEAN) / STD);
    }
  }
}
