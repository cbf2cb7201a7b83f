/**
 * Drawing and editing shape layers with the mouse: new shapes from a drag, their handles, moves.
 *
 * Every function returns a new layer; coordinates are (row, col) image pixels, rounded to 0.01.
 */
import { IBeamstop, ILayer, IShapeLayer, layerBase, Mode } from './api';

export type ShapeTool = 'circle' | 'annulus' | 'rectangle' | 'polygon' | 'line';

export interface IPoint {
  row: number;
  col: number;
}

export interface IHandle extends IPoint {
  name: string;
}

/** Layers drawn on the canvas (a beam stop placed by hand is one too). */
export type IDrawable = IShapeLayer | IBeamstop;

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function isDrawable(layer: ILayer): layer is IDrawable {
  return (
    layer.kind === 'circle' ||
    layer.kind === 'annulus' ||
    layer.kind === 'rectangle' ||
    layer.kind === 'polygon' ||
    layer.kind === 'line' ||
    (layer.kind === 'beamstop' && layer.row !== null && layer.col !== null)
  );
}

/** Width of a new line, in pixels. */
export const DEFAULT_LINE_WIDTH = 5;

/**
 * The shape a drag from `start` to `end` draws with `tool` (polygons are clicked vertex by vertex
 * instead: see {@link polygonFrom}). Returns null for a drag too short to mean anything.
 */
export function shapeFromDrag(
  tool: Exclude<ShapeTool, 'polygon'>,
  start: IPoint,
  end: IPoint,
  id: string,
  mode: Mode = 'exclude'
): IShapeLayer | null {
  const radius = round(Math.hypot(end.row - start.row, end.col - start.col));
  if (radius < 0.5) {
    return null;
  }
  const base = layerBase(id, mode);
  const row = round(start.row);
  const col = round(start.col);
  switch (tool) {
    case 'circle':
      return { ...base, kind: 'circle', row, col, radius };
    case 'annulus':
      return {
        ...base,
        kind: 'annulus',
        row,
        col,
        r_inner: round(radius / 2),
        r_outer: radius
      };
    case 'rectangle':
      return {
        ...base,
        kind: 'rectangle',
        row0: row,
        col0: col,
        row1: round(end.row),
        col1: round(end.col)
      };
    case 'line':
      return {
        ...base,
        kind: 'line',
        row0: row,
        col0: col,
        row1: round(end.row),
        col1: round(end.col),
        width: DEFAULT_LINE_WIDTH
      };
  }
}

/** A polygon through clicked points, or null with fewer than three. */
export function polygonFrom(
  points: IPoint[],
  id: string,
  mode: Mode = 'exclude'
): IShapeLayer | null {
  if (points.length < 3) {
    return null;
  }
  return {
    ...layerBase(id, mode),
    kind: 'polygon',
    vertices: points.map(p => [round(p.row), round(p.col)])
  };
}

/** Where a shape's handles are; dragging one reshapes it (see {@link dragHandle}). */
export function handles(layer: IDrawable): IHandle[] {
  switch (layer.kind) {
    case 'circle':
      return [
        { name: 'radius', row: layer.row, col: layer.col + layer.radius }
      ];
    case 'beamstop':
      return [
        {
          name: 'radius',
          row: layer.row ?? 0,
          col: (layer.col ?? 0) + layer.radius
        }
      ];
    case 'annulus':
      return [
        { name: 'inner', row: layer.row, col: layer.col + layer.r_inner },
        { name: 'outer', row: layer.row, col: layer.col + layer.r_outer }
      ];
    case 'rectangle':
      return [
        { name: 'r0c0', row: layer.row0, col: layer.col0 },
        { name: 'r0c1', row: layer.row0, col: layer.col1 },
        { name: 'r1c0', row: layer.row1, col: layer.col0 },
        { name: 'r1c1', row: layer.row1, col: layer.col1 }
      ];
    case 'line':
      return [
        { name: 'p0', row: layer.row0, col: layer.col0 },
        { name: 'p1', row: layer.row1, col: layer.col1 }
      ];
    case 'polygon':
      return layer.vertices.map(([row, col], i) => ({
        name: `v${i}`,
        row,
        col
      }));
  }
}

function distance(a: IPoint, row: number | null, col: number | null): number {
  return round(Math.hypot(a.row - (row ?? 0), a.col - (col ?? 0)));
}

/** The shape with handle `name` moved to `to`. */
export function dragHandle<T extends IDrawable>(
  layer: T,
  name: string,
  to: IPoint
): T {
  const row = round(to.row);
  const col = round(to.col);
  switch (layer.kind) {
    case 'circle':
    case 'beamstop':
      return {
        ...layer,
        radius: Math.max(0.5, distance(to, layer.row, layer.col))
      };
    case 'annulus': {
      const r = distance(to, layer.row, layer.col);
      return name === 'inner'
        ? { ...layer, r_inner: Math.min(r, layer.r_outer - 0.5) }
        : { ...layer, r_outer: Math.max(r, layer.r_inner + 0.5) };
    }
    case 'rectangle':
      return {
        ...layer,
        ...(name[1] === '0' ? { row0: row } : { row1: row }),
        ...(name[3] === '0' ? { col0: col } : { col1: col })
      };
    case 'line':
      return name === 'p0'
        ? { ...layer, row0: row, col0: col }
        : { ...layer, row1: row, col1: col };
    case 'polygon': {
      const index = Number(name.slice(1));
      const vertices = layer.vertices.map((v, i) =>
        i === index ? ([row, col] as [number, number]) : v
      );
      return { ...layer, vertices };
    }
  }
  return layer;
}

/** The shape moved by (dRow, dCol). */
export function translate<T extends IDrawable>(
  layer: T,
  dRow: number,
  dCol: number
): T {
  switch (layer.kind) {
    case 'circle':
    case 'annulus':
    case 'beamstop':
      return {
        ...layer,
        row: round((layer.row ?? 0) + dRow),
        col: round((layer.col ?? 0) + dCol)
      };
    case 'rectangle':
    case 'line':
      return {
        ...layer,
        row0: round(layer.row0 + dRow),
        col0: round(layer.col0 + dCol),
        row1: round(layer.row1 + dRow),
        col1: round(layer.col1 + dCol)
      };
    case 'polygon':
      return {
        ...layer,
        vertices: layer.vertices.map(
          ([r, c]) => [round(r + dRow), round(c + dCol)] as [number, number]
        )
      };
  }
  return layer;
}
