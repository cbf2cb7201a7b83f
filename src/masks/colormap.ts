/**
 * Colour-mapping a detector image in the browser, so scale and colour changes need no round trip.
 */
import { bitAt } from './encoding';

export type Scale = 'log' | 'linear';
export type ColormapName = 'viridis' | 'magma' | 'gray';

/** Colour stops (position 0..1, r, g, b) each map is interpolated from. */
const STOPS: Record<ColormapName, [number, number, number, number][]> = {
  viridis: [
    [0, 68, 1, 84],
    [0.13, 71, 44, 122],
    [0.25, 59, 81, 139],
    [0.38, 44, 113, 142],
    [0.5, 33, 144, 141],
    [0.63, 39, 173, 129],
    [0.75, 92, 200, 99],
    [0.88, 170, 220, 50],
    [1, 253, 231, 37]
  ],
  magma: [
    [0, 0, 0, 4],
    [0.13, 28, 16, 68],
    [0.25, 79, 18, 123],
    [0.38, 129, 37, 129],
    [0.5, 181, 54, 122],
    [0.63, 229, 80, 100],
    [0.75, 251, 135, 97],
    [0.88, 254, 194, 135],
    [1, 252, 253, 191]
  ],
  gray: [
    [0, 0, 0, 0],
    [1, 255, 255, 255]
  ]
};

export const COLORMAPS: Record<ColormapName, string> = {
  viridis: 'Viridis',
  magma: 'Magma',
  gray: 'Gray'
};

/** A 256-entry lookup table as packed 0xAABBGGRR words (the byte order of ImageData on every
 * little-endian machine the browser runs on). */
export function lookupTable(name: ColormapName): Uint32Array {
  const stops = STOPS[name];
  const table = new Uint32Array(256);
  let k = 0;
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    while (k < stops.length - 2 && t > stops[k + 1][0]) {
      k++;
    }
    const [t0, r0, g0, b0] = stops[k];
    const [t1, r1, g1, b1] = stops[k + 1];
    const f = (t - t0) / (t1 - t0);
    const r = Math.round(r0 + f * (r1 - r0));
    const g = Math.round(g0 + f * (g1 - g0));
    const b = Math.round(b0 + f * (b1 - b0));
    table[i] = packColor([r, g, b, 255]);
  }
  return table;
}

/** The value a pixel is displayed by: log10(1 + counts) or the counts, never below 0. */
function transform(value: number, scale: Scale): number {
  const v = value > 0 ? value : 0;
  return scale === 'log' ? Math.log10(1 + v) : v;
}

/**
 * Display limits that keep a few hot pixels from washing out the image: the 1st and 99.5th
 * percentiles of the transformed values, from an even sample of at most 200,000 pixels.
 */
export function autoRange(data: Float32Array, scale: Scale): [number, number] {
  const step = Math.max(1, Math.floor(data.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < data.length; i += step) {
    const v = data[i];
    if (Number.isFinite(v)) {
      sample.push(transform(v, scale));
    }
  }
  if (sample.length === 0) {
    return [0, 1];
  }
  sample.sort((a, b) => a - b);
  const lo = sample[Math.floor(0.01 * (sample.length - 1))];
  const hi = sample[Math.floor(0.995 * (sample.length - 1))];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/**
 * Colour-map an image into RGBA pixels (`out` has 4 bytes per pixel). `lo` and `hi` are limits of
 * the transformed values; non-finite pixels take the lowest colour.
 */
export function colorize(
  data: Float32Array,
  scale: Scale,
  lo: number,
  hi: number,
  table: Uint32Array,
  out: Uint8ClampedArray
): void {
  const words = pixelWords(out, data.length);
  const k = 255 / (hi - lo);
  const log = scale === 'log';
  for (let i = 0; i < data.length; i++) {
    let v = data[i];
    v = v > 0 ? (log ? Math.log10(1 + v) : v) : 0;
    let level = (v - lo) * k;
    level = level < 0 ? 0 : level > 255 ? 255 : level;
    words[i] = table[level | 0];
  }
}

/** RGBA pixels as one 32-bit word each (0xAABBGGRR, see {@link lookupTable}). */
function pixelWords(out: Uint8ClampedArray, count: number): Uint32Array {
  return new Uint32Array(out.buffer, out.byteOffset, count);
}

/** `[r, g, b, alpha 0..255]` as a pixel word. */
function packColor(color: [number, number, number, number]): number {
  return (
    ((color[3] << 24) | (color[2] << 16) | (color[1] << 8) | color[0]) >>> 0
  );
}

/**
 * Paint the masked pixels (bit 0 in `packed`) translucent in RGBA `out`, the used ones clear.
 * `color` is [r, g, b, alpha 0..255].
 */
export function paintMask(
  packed: Uint8Array,
  count: number,
  color: [number, number, number, number],
  out: Uint8ClampedArray
): void {
  const words = pixelWords(out, count);
  const word = packColor(color);
  for (let byte = 0; byte * 8 < count; byte++) {
    const bits = packed[byte];
    const base = byte * 8;
    if (bits === 0xff) {
      words.fill(0, base, Math.min(base + 8, count));
      continue;
    }
    for (let j = 0; j < 8 && base + j < count; j++) {
      words[base + j] = (bits >> (7 - j)) & 1 ? 0 : word;
    }
  }
}

/** Paint the set bits of `packed` (ROI boundaries) in `color`, the rest clear. */
export function paintBits(
  packed: Uint8Array,
  count: number,
  color: [number, number, number, number],
  out: Uint8ClampedArray
): void {
  const words = pixelWords(out, count);
  const word = packColor(color);
  words.fill(0);
  for (let i = 0; i < count; i++) {
    if (packed[i >> 3] !== 0 && bitAt(packed, i)) {
      words[i] = word;
    }
  }
}
