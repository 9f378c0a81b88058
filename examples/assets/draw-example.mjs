// Draws examples/assets/house.png, the demo image: a red house with a tree under a
// blue sky, 320x240, so examples and tests have a small image with no licence question.
//   node examples/assets/draw-example.mjs
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

const W = 320;
const H = 240;
const rgb = new Uint8Array(W * H * 3);
const paint = (inside, color) => {
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) if (inside(x, y)) rgb.set(color(x, y), (y * W + x) * 3);
};

paint((_, y) => y < 160, (_, y) => [90 + y / 3, 150 + y / 4, 235]); // sky, lighter at the horizon
paint((x, y) => (x - 270) ** 2 + (y - 45) ** 2 < 22 ** 2, () => [255, 215, 60]); // sun
paint((_, y) => y >= 160, (x, y) => [60 + ((x * 7 + y * 13) % 23), 150 + ((x * 5 + y * 3) % 19), 60]); // grass
paint((x, y) => x >= 70 && x < 190 && y >= 105 && y < 190, () => [200, 40, 35]); // walls
paint((x, y) => y >= 55 && y < 105 && Math.abs(x - 130) < (y - 55) * 1.4, () => [110, 60, 40]); // roof
paint((x, y) => x >= 115 && x < 145 && y >= 140 && y < 190, () => [90, 55, 30]); // door
paint((x, y) => x >= 85 && x < 105 && y >= 120 && y < 140, () => [200, 230, 255]); // window
paint((x, y) => x >= 155 && x < 175 && y >= 120 && y < 140, () => [200, 230, 255]); // window
paint((x, y) => x >= 236 && x < 250 && y >= 130 && y < 200, () => [100, 70, 40]); // trunk
paint((x, y) => (x - 243) ** 2 + (y - 110) ** 2 < 32 ** 2, () => [30, 120, 40]); // crown

// PNG: signature, IHDR (8-bit RGB), one IDAT of filter-0 rows, IEND.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
  return n >>> 0;
});
const crc32 = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(W, 0);
ihdr.writeUInt32BE(H, 4);
ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), no interlace
const rows = Buffer.alloc(H * (1 + W * 3));
for (let y = 0; y < H; y++) rows.set(rgb.subarray(y * W * 3, (y + 1) * W * 3), y * (1 + W * 3) + 1);
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk("IHDR", ihdr),
  chunk("IDAT", deflateSync(rows, { level: 9 })),
  chunk("IEND", new Uint8Array(0)),
]);
writeFileSync(new URL("./house.png", import.meta.url), png);
console.log(`wrote examples/assets/house.png (${W}x${H}, ${png.length} bytes)`);
