/**
 * The mask API's shapes, taken from the types generated from docs/openapi.json (`jlpm api:types`),
 * so the composer and the server's pydantic models (jupyterlab_raydata/masks) cannot drift.
 *
 * Coordinates are (row, col) pixels with pixel centres on integers; azimuths are degrees from +col
 * towards +row. A mask is True (1) = pixel used.
 */
import type { components } from '../jobs/openapi';

type Schemas = components['schemas'];

export type ICircle = Schemas['Circle'];
export type IAnnulus = Schemas['Annulus'];
export type IRectangle = Schemas['Rectangle'];
export type IPolygon = Schemas['Polygon'];
export type ILine = Schemas['Line'];
export type IBeamstop = Schemas['Beamstop'];
export type ILibraryMask = Schemas['LibraryMask'];
export type IUploadedMask = Schemas['UploadedMask'];

/** Any layer of a recipe. */
export type ILayer = NonNullable<Schemas['Recipe']['layers']>[number];
export type LayerKind = ILayer['kind'];
export type Mode = ILayer['mode'];
export type Polarity = IUploadedMask['polarity'];

/** Shapes drawn and edited on the canvas. */
export type IShapeLayer = ICircle | IAnnulus | IRectangle | IPolygon | ILine;

export type IRunRef = Schemas['RunRef'];
export type IGeometryOverrides = Schemas['GeometryOverrides'];
export type IGeometrySpec = Schemas['GeometrySpec'];
export type IRoiSpec = Schemas['RoiSpec'];

/** A recipe as the composer holds it: its layers always listed. */
export type IRecipe = Schemas['Recipe'] & { layers: ILayer[] };

export type IGeometryInfo = Schemas['GeometryInfo'];
export type ILayerEffect = Schemas['LayerEffect'];
/** `POST masks/preview` */
export type IPreview = Schemas['Preview'];
/** `GET masks/runs/{catalog}/{uid}` */
export type IRunImageInfo = Schemas['RunImageInfo'];
export type IMaskSummary = Schemas['MaskSummary'];
/** `GET masks` */
export type IMaskList = Schemas['MaskList'];
/** `GET masks/{name}` */
export type IMaskDetail = Schemas['MaskDetail'];
export type IUploadInfo = Schemas['UploadInfo'];
/** `POST masks/upload` */
export type IUploadList = Schemas['UploadList'];
/** `POST masks/beam-center` */
export type IBeamCenter = Schemas['BeamCenter'];

/** The fields every layer has, for a new layer of `kind`. */
export function layerBase(id: string, mode: Mode = 'exclude') {
  return { id, mode, enabled: true, note: '' };
}

/** Geometry overrides with nothing overridden. */
export const NO_OVERRIDES: IGeometryOverrides = {
  beam_center_row: null,
  beam_center_col: null,
  distance_m: null,
  wavelength_A: null,
  energy_keV: null,
  pixel_size_m: null
};

/** The geometry a recipe without one uses: the run's metadata. */
export const METADATA_GEOMETRY: IGeometrySpec = {
  source: 'metadata',
  overrides: NO_OVERRIDES,
  poni: null
};
