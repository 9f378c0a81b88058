// Pixel layout conversions done before resizing.

/** RGBA -> RGB by dropping alpha, as Pillow's convert("RGB") does (no compositing). dst may equal src. */
export function rgbaToRgb(src: usize, pixels: i32, dst: usize): void {
  for (let i = 0; i < pixels; i++) {
    const from = src + (<usize>i << 2);
    const to = dst + <usize>(i * 3);
    store<u8>(to, load<u8>(from));
    store<u8>(to, load<u8>(from, 1), 1);
    store<u8>(to, load<u8>(from, 2), 2);
  }
}
