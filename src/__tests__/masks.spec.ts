import { ICircle, IPolygon, IRectangle } from '../masks/api';
import {
  autoRange,
  colorize,
  lookupTable,
  paintBits,
  paintMask
} from '../masks/colormap';
import { bitAt, fromBase64, parseNpy } from '../masks/encoding';
import { History } from '../masks/history';
import {
  dragHandle,
  handles,
  polygonFrom,
  shapeFromDrag,
  translate
} from '../masks/shapes';

/** The bytes `np.save` writes for a float32 C-order (rows, cols) array (format version 1.0). */
function npyBytes(rows: number, cols: number, values: number[]): ArrayBuffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const buffer = new ArrayBuffer(10 + header.length + 4 * values.length);
  const bytes = new Uint8Array(buffer);
  bytes.set([0x93, ...Array.from('NUMPY', c => c.charCodeAt(0)), 1, 0]);
  new DataView(buffer).setUint16(8, header.length, true);
  bytes.set(
    Array.from(header, c => c.charCodeAt(0)),
    10
  );
  new Float32Array(buffer, 10 + header.length).set(values);
  return buffer;
}

/** numpy packbits of 0/1 values (most significant bit first), as base64. */
function packbits(values: number[]): string {
  const bytes = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    bytes[i >> 3] |= v << (7 - (i & 7));
  });
  return btoa(String.fromCharCode(...bytes));
}

describe('encoding', () => {
  it('reads the average image the server sends as .npy', () => {
    const image = parseNpy(npyBytes(2, 3, [0, 1.5, 2, 3, 4, 1e6]));
    expect([image.rows, image.cols]).toEqual([2, 3]);
    expect(Array.from(image.data)).toEqual([0, 1.5, 2, 3, 4, 1e6]);
  });

  it('refuses anything but a 2-D float32 array', () => {
    const bytes = new Uint8Array(npyBytes(2, 3, [0, 0, 0, 0, 0, 0]));
    bytes.set(
      Array.from("'<f8'", c => c.charCodeAt(0)),
      19
    );
    expect(() => parseNpy(bytes.buffer)).toThrow(/unexpected .npy header/);
    expect(() => parseNpy(new ArrayBuffer(16))).toThrow('not a .npy file');
  });

  it('unpacks numpy packbits most significant bit first', () => {
    const bits = [1, 0, 1, 1, 0, 0, 0, 1, 1, 1];
    const packed = fromBase64(packbits(bits));
    expect(bits.map((_, i) => bitAt(packed, i))).toEqual(bits);
  });
});

describe('colormap', () => {
  it('runs from the first to the last colour stop', () => {
    const table = lookupTable('gray');
    const bytes = new Uint8Array(table.buffer);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0, 0, 0, 255]);
    expect(Array.from(bytes.subarray(255 * 4, 256 * 4))).toEqual([
      255, 255, 255, 255
    ]);
    expect(
      Array.from(new Uint8Array(lookupTable('viridis').buffer, 0, 3))
    ).toEqual([68, 1, 84]);
  });

  it('maps values through log10(1 + v) between the limits, clipping outside', () => {
    const data = new Float32Array([0, 9, 99, -5, NaN, 1e9]);
    const out = new Uint8ClampedArray(4 * data.length);
    colorize(data, 'log', 0, 2, lookupTable('gray'), out);
    const grey = Array.from({ length: data.length }, (_, i) => out[4 * i]);
    // log10(10) = 1 is half way: level 127; log10(100) = 2 is the top.
    expect(grey).toEqual([0, 127, 255, 0, 0, 255]);
    colorize(data, 'linear', 0, 99, lookupTable('gray'), out);
    expect(out[4 * 1]).toBe(Math.floor((9 / 99) * 255));
  });

  it('takes automatic limits from percentiles, so a few hot pixels do not matter', () => {
    const data = new Float32Array(10_000).map((_, i) => i % 100);
    data[5] = 1e12;
    const [lo, hi] = autoRange(data, 'linear');
    expect(lo).toBe(0);
    expect(hi).toBe(99);
  });

  it('paints exactly the masked pixels of the preview', () => {
    const used = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1];
    const out = new Uint8ClampedArray(4 * used.length);
    paintMask(fromBase64(packbits(used)), used.length, [200, 10, 10, 128], out);
    const painted = used.map((_, i) => out[4 * i + 3] > 0);
    expect(painted).toEqual(used.map(v => v === 0));
    expect(Array.from(out.subarray(8, 12))).toEqual([200, 10, 10, 128]);
    const outline = new Uint8ClampedArray(4 * used.length);
    paintBits(fromBase64(packbits(used)), used.length, [1, 2, 3, 4], outline);
    expect(used.map((_, i) => outline[4 * i + 3])).toEqual(
      used.map(v => (v ? 4 : 0))
    );
  });
});

describe('History', () => {
  it('undoes and redoes at least 20 steps, and a new step clears redo', () => {
    const history = new History<number>(100);
    let state = 0;
    for (let i = 1; i <= 25; i++) {
      history.record(state);
      state = i;
    }
    for (let i = 0; i < 25; i++) {
      state = history.undo(state)!;
    }
    expect(state).toBe(0);
    expect(history.canUndo).toBe(false);
    expect(history.undo(state)).toBeUndefined();
    state = history.redo(state)!;
    state = history.redo(state)!;
    expect(state).toBe(2);
    history.record(state);
    state = 99;
    expect(history.canRedo).toBe(false);
    expect(history.undo(state)).toBe(2);
  });

  it('forgets the oldest steps beyond its limit', () => {
    const history = new History<number>(3);
    [0, 1, 2, 3, 4].forEach(s => history.record(s));
    expect(history.depth).toBe(3);
    expect([history.undo(5), history.undo(4), history.undo(3)]).toEqual([
      4, 3, 2
    ]);
  });
});

describe('shapes', () => {
  it.each([
    {
      tool: 'circle' as const,
      start: { row: 10, col: 20 },
      end: { row: 13, col: 24 },
      made: { kind: 'circle', mode: 'exclude', row: 10, col: 20, radius: 5 }
    },
    {
      tool: 'rectangle' as const,
      start: { row: 1.234, col: 2 },
      end: { row: 5, col: 9.876 },
      made: { kind: 'rectangle', row0: 1.23, col0: 2, row1: 5, col1: 9.88 }
    }
  ])('makes a $tool from a drag', ({ tool, start, end, made }) => {
    expect(shapeFromDrag(tool, start, end, 'id')).toMatchObject(made);
  });

  it('refuses a click', () => {
    expect(
      shapeFromDrag('line', { row: 1, col: 1 }, { row: 1.2, col: 1.1 }, 'x')
    ).toBeNull();
    expect(polygonFrom([{ row: 0, col: 0 }], 'p')).toBeNull();
  });

  it('reshapes by handle and moves as a whole', () => {
    const circle: ICircle = {
      id: 'c',
      kind: 'circle',
      mode: 'exclude',
      enabled: true,
      note: '',
      row: 10,
      col: 10,
      radius: 3
    };
    expect(handles(circle)).toEqual([{ name: 'radius', row: 10, col: 13 }]);
    expect(dragHandle(circle, 'radius', { row: 16, col: 18 }).radius).toBe(10);
    expect(translate(circle, 2.5, -1)).toMatchObject({ row: 12.5, col: 9 });
    const polygon = polygonFrom(
      [
        { row: 0, col: 0 },
        { row: 0, col: 10 },
        { row: 10, col: 0 }
      ],
      'p'
    ) as IPolygon;
    expect(dragHandle(polygon, 'v1', { row: 1, col: 11 }).vertices).toEqual([
      [0, 0],
      [1, 11],
      [10, 0]
    ]);
    const rectangle = shapeFromDrag(
      'rectangle',
      { row: 0, col: 0 },
      { row: 4, col: 4 },
      'r'
    ) as IRectangle;
    expect(dragHandle(rectangle, 'r1c0', { row: 6, col: -2 })).toMatchObject({
      row0: 0,
      col0: -2,
      row1: 6,
      col1: 4
    });
  });
});
