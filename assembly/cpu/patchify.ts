// im2col for SigLIP's stride-P, kernel-P patch conv: pixels [B, C, S, S] f32 ->
// y [B * G * G, C * P * P] with G = S / P, patches row-major over the grid and
// each row ordered (c, py, px) like the flattened PyTorch weight [D, C, P, P], so
// the patch embedding is then one linear. Each (c, py) is a contiguous run of P
// pixels in both layouts.
export function patchify(y: usize, pixels: usize, batch: i32, channels: i32, imageSize: i32, patchSize: i32): void {
  const G = imageSize / patchSize;
  const P = patchSize;
  const run = <usize>P << 2;
  let dst = y;
  for (let b = 0; b < batch; b++) {
    for (let gy = 0; gy < G; gy++) {
      for (let gx = 0; gx < G; gx++) {
        for (let c = 0; c < channels; c++) {
          for (let py = 0; py < P; py++) {
            const row = (<usize>(b * channels + c) * imageSize + gy * P + py) * imageSize + gx * P;
            memory.copy(dst, pixels + (row << 2), run);
            dst += run;
          }
        }
      }
    }
  }
}
