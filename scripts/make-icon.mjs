// Draws media/icon.png (the Marketplace and Open VSX icon, 128×128): three image layers stacked as
// isometric slabs on a dark rounded square, the top one lit. Polygons are filled with 4×4
// supersampling and written as an RGBA PNG with node's zlib. Run: node scripts/make-icon.mjs
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SS = 4;

const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];

/** Point in polygon (even-odd). */
function inside(poly, x, y) {
  let r = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) r = !r;
  }
  return r;
}

function roundedSquare(x, y) {
  const r = 24;
  const cx = Math.min(Math.max(x, r), SIZE - r);
  const cy = Math.min(Math.max(y, r), SIZE - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

// One slab: its top rhombus and its two side faces.
function slab(cy, top, left, right) {
  const cx = 64;
  const hw = 42;
  const hh = 21;
  const t = 9;
  return [
    { poly: [[cx - hw, cy], [cx, cy + hh], [cx, cy + hh + t], [cx - hw, cy + t]], color: hex(left) },
    { poly: [[cx, cy + hh], [cx + hw, cy], [cx + hw, cy + t], [cx, cy + hh + t]], color: hex(right) },
    { poly: [[cx, cy - hh], [cx + hw, cy], [cx, cy + hh], [cx - hw, cy]], color: hex(top) },
  ];
}

// Bottom first: each later shape is painted over the earlier ones.
const shapes = [
  ...slab(83, '#2B6CB0', '#1C4E85', '#173F6B'),
  ...slab(63, '#3A8FD9', '#2667A8', '#1F5690'),
  ...slab(43, '#F6AD55', '#C77D2E', '#A86523'),
];
const background = hex('#14243B');

const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let y = 0; y < SIZE; y++) {
  for (let x = 0; x < SIZE; x++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let sy = 0; sy < SS; sy++) {
      for (let sx = 0; sx < SS; sx++) {
        const px = x + (sx + 0.5) / SS;
        const py = y + (sy + 0.5) / SS;
        if (!roundedSquare(px, py)) continue;
        let c = background;
        for (const s of shapes) if (inside(s.poly, px, py)) c = s.color;
        r += c[0]; g += c[1]; b += c[2]; a += 255;
      }
    }
    const n = SS * SS;
    const o = (y * SIZE + x) * 4;
    // Colour averaged over the covered samples, alpha over all of them.
    const covered = a / 255;
    rgba[o] = covered ? Math.round(r / covered) : 0;
    rgba[o + 1] = covered ? Math.round(g / covered) : 0;
    rgba[o + 2] = covered ? Math.round(b / covered) : 0;
    rgba[o + 3] = Math.round(a / n);
  }
}

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
const out = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'media', 'icon.png');
writeFileSync(out, png);
console.log(`${out}: ${png.length} bytes`);
