// Pixel normalisation, as the HF SiglipImageProcessor computes it: rescale
// (x * rescale in f64, stored as f32), then (x - mean) / std in f32 per channel
// (PaliGemma's: rescale 1/255, mean and std 0.5); interleaved RGB uint8
// [pixels, 3] in, channels-first f32 [3, pixels] out.

export function normalize(
  src: usize, pixels: i32, dst: usize, rescale: f64,
  mean0: f32, mean1: f32, mean2: f32, std0: f32, std1: f32, std2: f32,
): void {
  const plane = <usize>pixels << 2;
  for (let c = 0; c < 3; c++) {
    const mean = c == 0 ? mean0 : c == 1 ? mean1 : mean2;
    const std = c == 0 ? std0 : c == 1 ? std1 : std2;
    const to = dst + <usize>c * plane;
    for (let i = 0; i < pixels; i++) {
      const v = <f32>(<f64>load<u8>(src + <usize>(i * 3 + c)) * rescale);
      store<f32>(to + (<usize>i << 2), (v - mean) / std);
    }
  }
}
