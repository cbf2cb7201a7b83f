/**
 * Shapes of the mask API (mirrors the server's pydantic models in jupyterlab_raydata/masks).
 *
 * Coordinates are (row, col) pixels with pixel centres on integers; azimuths are degrees from +col
 * towards +row. A mask is True (1) = pixel used.
 */

export type Mode = 'include' | 'exclude';
export type Polarity = 'used' | 'masked';

interface ILayerBase {
  id: string;
  mode: Mode;
  enabled: boolean;
  note?: string;
}

export interface ICircle extends ILayerBase {
  kind: 'circle';
  row: number;
  col: number;
  radius: number;
}

export interface IAnnulus extends ILayerBase {
  kind: 'annulus';
  row: number;
  col: number;
  r_inner: number;
  r_outer: number;
}

export interface IRectangle extends ILayerBase {
  kind: 'rectangle';
  row0: number;
  col0: number;
  row1: number;
  col1: number;
}

export interface IPolygon extends ILayerBase {
  kind: 'polygon';
  vertices: [number, number][];
}

export interface ILine extends ILayerBase {
  kind: 'line';
  row0: number;
  col0: number;
  row1: number;
  col1: number;
  width: number;
}

export interface IBeamstop extends ILayerBase {
  kind: 'beamstop';
  row: number | null;
  col: number | null;
  radius: number;
  arm_angle: number | null;
  arm_width: number;
}

export interface IQRange extends ILayerBase {
  kind: 'q_range';
  q_min: number | null;
  q_max: number | null;
}

export interface IPhiRange extends ILayerBase {
  kind: 'phi_range';
  start: number;
  stop: number;
}

export interface IHotPixels extends ILayerBase {
  kind: 'hot_pixels';
  sigma: number;
  window: number;
}

export interface IDeadPixels extends ILayerBase {
  kind: 'dead_pixels';
  fraction: number;
  window: number;
}

export interface INeverCounted extends ILayerBase {
  kind: 'never_counted';
}

export interface IValueRange extends ILayerBase {
  kind: 'value_range';
  vmin: number | null;
  vmax: number | null;
}

export interface IRingOutliers extends ILayerBase {
  kind: 'ring_outliers';
  n_rings: number;
  sigma: number;
}

export interface ILibraryMask extends ILayerBase {
  kind: 'library';
  name: string;
}

export interface IUploadedMask extends ILayerBase {
  kind: 'upload';
  upload: string;
  source: string;
  polarity: Polarity;
}

/** Shapes drawn and edited on the canvas. */
export type IShapeLayer = ICircle | IAnnulus | IRectangle | IPolygon | ILine;

export type ILayer =
  | IShapeLayer
  | IBeamstop
  | IQRange
  | IPhiRange
  | IHotPixels
  | IDeadPixels
  | INeverCounted
  | IValueRange
  | IRingOutliers
  | ILibraryMask
  | IUploadedMask;

export type LayerKind = ILayer['kind'];

export interface IRunRef {
  catalog: string;
  uid: string;
  key?: string | null;
}

export interface IGeometryOverrides {
  beam_center_row?: number | null;
  beam_center_col?: number | null;
  distance_m?: number | null;
  wavelength_A?: number | null;
  energy_keV?: number | null;
  pixel_size_m?: number | null;
}

export interface IGeometrySpec {
  source: 'metadata' | 'manual' | 'poni';
  overrides: IGeometryOverrides;
  poni?: string | null;
}

export interface IBins {
  q: number;
  phi: number;
}

export interface IRoiSpec {
  kind: 'rings' | 'qphi';
  dynamic: IBins;
  static: IBins;
  q_min: number | null;
  q_max: number | null;
  spacing: 'linear' | 'log';
  phi_min: number;
  phi_max: number;
}

export interface IRecipe {
  version?: 1;
  shape: [number, number];
  run: IRunRef | null;
  layers: ILayer[];
  invert: boolean;
  geometry: IGeometrySpec | null;
  rois: IRoiSpec | null;
}

export interface IGeometryInfo {
  source: 'metadata' | 'manual' | 'poni';
  beam_center_row: number;
  beam_center_col: number;
  distance_m: number;
  wavelength_A: number;
  energy_keV: number;
  pixel_size_m: number;
  pixel_size_row_m: number;
  tilt_deg: number | null;
}

export interface ILayerEffect {
  id: string;
  kind: string;
  pixels: number;
  masked_after: number;
}

export interface IPartitionSummary {
  num_pts: [number, number];
  n: number;
  q_range: [number, number];
  n_pixels_min: number;
  n_pixels_max: number;
}

export interface IDynamicRois extends IPartitionSummary {
  q: number[];
  phi: number[];
  n_pixels: number[];
  anchors: [number, number][];
}

/** `POST masks/preview` */
export interface IPreview {
  shape: [number, number];
  total: number;
  used: number;
  masked: number;
  layers: ILayerEffect[];
  geometry: IGeometryInfo | null;
  geometry_error: string;
  dynamic: IDynamicRois | null;
  static: IPartitionSummary | null;
  mask: string;
  outline: string | null;
  warnings: string[];
}

/** `GET masks/runs/{catalog}/{uid}` */
export interface IRunImageInfo {
  catalog: string;
  uid: string;
  key: string;
  image_keys: string[];
  shape: [number, number];
  frames_read: number;
  frames_total: number;
  scan_id: number | null;
  geometry: IGeometryInfo | null;
  geometry_error: string;
}

export interface IMaskSummary {
  name: string;
  shape: [number, number];
  used: number;
  masked: number;
  modified: number;
  run: IRunRef | null;
  layers: number;
  rois: number;
  files: string[];
}

/** `GET masks` */
export interface IMaskList {
  masks: IMaskSummary[];
  folder: string;
}

/** `GET masks/{name}` */
export interface IMaskDetail extends IMaskSummary {
  recipe: IRecipe;
}

export interface IUploadInfo {
  id: string;
  source: string;
  shape: [number, number];
  nonzero: number;
  suggested_polarity: Polarity;
}

/** `POST masks/upload` */
export interface IUploadList {
  uploads: IUploadInfo[];
}

/** `POST masks/beam-center` */
export interface IBeamCenter {
  row: number;
  col: number;
}
