/**
 * The binary forms the mask API sends: a run's average image as a `.npy` file, masks and ROI
 * outlines as base64 of numpy `packbits` (row-major, most significant bit first).
 */

/** A 2-D image read from a `.npy` file. */
export interface IImage {
  rows: number;
  cols: number;
  data: Float32Array;
}

const MAGIC = '\x93NUMPY';

/**
 * Read a little-endian float32 (`<f4`) C-order 2-D array from the bytes of a `.npy` file.
 *
 * @throws Error for anything else (the server only sends this form).
 */
export function parseNpy(buffer: ArrayBuffer): IImage {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== MAGIC) {
    throw new Error('not a .npy file');
  }
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLength =
    major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(
    bytes.subarray(start, start + headerLength)
  );
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (descr !== '<f4' || fortran !== 'False' || !shape) {
    throw new Error(`unexpected .npy header ${header.trim()}`);
  }
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  const offset = start + headerLength;
  // The data offset is a multiple of 64 bytes, so the view is aligned for Float32Array.
  const data = new Float32Array(buffer, offset, rows * cols);
  return { rows, cols, data };
}

/** Bytes of a base64 string. */
export function fromBase64(text: string): Uint8Array {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    out[i] = raw.charCodeAt(i);
  }
  return out;
}

/** The value (0 or 1) of bit `index` in numpy `packbits` output. */
export function bitAt(packed: Uint8Array, index: number): number {
  return (packed[index >> 3] >> (7 - (index & 7))) & 1;
}
