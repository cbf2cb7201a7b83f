/**
 * The mask composer's state: the run's image, the recipe being drawn (with undo/redo), the server's
 * preview of it, and the saved-mask library.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  RaydataAPIError,
  requestAPI,
  requestBlob,
  withQuery
} from '../request';
import {
  IBeamCenter,
  IGeometryInfo,
  IGeometrySpec,
  ILayer,
  IMaskDetail,
  IMaskList,
  IMaskSummary,
  IPreview,
  IRecipe,
  IRoiSpec,
  IRunImageInfo,
  IRunRef,
  IUploadList,
  layerBase,
  METADATA_GEOMETRY,
  Polarity
} from './api';
import { autoRange, ColormapName, Scale } from './colormap';
import { fromBase64, IImage, parseNpy } from './encoding';
import { History } from './history';
import { IPoint, ShapeTool } from './shapes';

/** A failure the views show: a short title and what to do. */
export interface IProblem {
  error: string;
  detail: string;
}

export function toProblem(error: unknown): IProblem {
  if (error instanceof RaydataAPIError) {
    return { error: error.error, detail: error.detail };
  }
  return { error: 'Unexpected error', detail: String(error) };
}

/** Steps of undo kept (the composer promises at least 20). */
export const UNDO_STEPS = 100;
/** A preview is asked for this long after the last edit. */
const PREVIEW_DELAY_MS = 120;

export type Tool = 'pan' | ShapeTool;

export interface IDisplay {
  scale: Scale;
  colormap: ColormapName;
  /** Limits of the displayed (transformed) values; null = automatic percentiles. */
  range: [number, number] | null;
  showMask: boolean;
  showRois: boolean;
  /** Opacity of the masked-pixel overlay, 0..1. */
  opacity: number;
}

/** The mask and ROI outline of the latest preview, unpacked once. */
export interface IPreviewBits {
  mask: Uint8Array;
  outline: Uint8Array | null;
}

export type LoadState =
  | { status: 'empty' }
  | { status: 'loading' }
  | { status: 'ready' }
  | { status: 'error'; problem: IProblem };

let nextId = 0;

/** A handle for a new layer, unique in this page. */
export function newLayerId(kind: string): string {
  nextId += 1;
  return `${kind}-${Date.now().toString(36)}-${nextId}`;
}

function emptyRecipe(shape: [number, number], run: IRunRef | null): IRecipe {
  return {
    version: 1,
    shape,
    run,
    layers: [],
    invert: false,
    geometry: null,
    rois: null
  };
}

/**
 * The saved masks: listed by the sidebar and the composer, refreshed after every change.
 */
export class MaskLibraryModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get masks(): IMaskSummary[] {
    return this._masks;
  }

  get folder(): string {
    return this._folder;
  }

  get problem(): IProblem | null {
    return this._problem;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  async refresh(): Promise<void> {
    try {
      const list = await requestAPI<IMaskList>('masks');
      this._masks = list.masks;
      this._folder = list.folder;
      this._problem = null;
    } catch (error) {
      this._problem = toProblem(error);
    }
    this._loaded = true;
    this._changed.emit();
  }

  async rename(name: string, to: string): Promise<void> {
    await this._act(`masks/${encodeURIComponent(name)}/rename`, 'POST', { to });
  }

  async duplicate(name: string, to: string): Promise<void> {
    await this._act(`masks/${encodeURIComponent(name)}/duplicate`, 'POST', {
      to
    });
  }

  async remove(name: string): Promise<void> {
    await this._act(`masks/${encodeURIComponent(name)}`, 'DELETE');
  }

  /** Where a saved mask's export in `format` downloads from (a path under the API). */
  exportEndpoint(name: string, format: 'npy' | 'qmap' | 'edf'): string {
    return withQuery(`masks/${encodeURIComponent(name)}/export`, { format });
  }

  private async _act(endpoint: string, method: string, body?: object) {
    try {
      await requestAPI(endpoint, {
        method,
        body: body ? JSON.stringify(body) : undefined
      });
      this._problem = null;
    } catch (error) {
      this._problem = toProblem(error);
    }
    await this.refresh();
  }

  private _masks: IMaskSummary[] = [];
  private _folder = '';
  private _problem: IProblem | null = null;
  private _loaded = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * One composer: a run's average image and the recipe drawn on it.
 *
 * Signals: `changed` for any state the views show, `imageChanged` when the pixels to colour change
 * (image, scale, colour map, range), `previewChanged` when a new mask/outline arrives.
 */
export class MaskComposerModel implements IDisposable {
  constructor(readonly library: MaskLibraryModel) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get imageChanged(): ISignal<this, void> {
    return this._imageChanged;
  }
  get previewChanged(): ISignal<this, void> {
    return this._previewChanged;
  }

  get load(): LoadState {
    return this._load;
  }
  get info(): IRunImageInfo | null {
    return this._info;
  }
  get image(): IImage | null {
    return this._image;
  }
  get recipe(): IRecipe {
    return this._recipe;
  }
  get display(): IDisplay {
    return this._display;
  }
  /** The display limits in use: the chosen ones or the automatic percentiles. */
  get range(): [number, number] {
    return this._display.range ?? this._autoRange;
  }
  get tool(): Tool {
    return this._tool;
  }
  get selected(): string | null {
    return this._selected;
  }
  get draft(): IPoint[] {
    return this._draft;
  }
  get preview(): IPreview | null {
    return this._preview;
  }
  get previewBits(): IPreviewBits | null {
    return this._bits;
  }
  get previewPending(): boolean {
    return this._pending > 0;
  }
  get previewProblem(): IProblem | null {
    return this._previewProblem;
  }
  get problem(): IProblem | null {
    return this._problem;
  }
  get message(): string {
    return this._message;
  }
  get canUndo(): boolean {
    return this._history.canUndo;
  }
  get canRedo(): boolean {
    return this._history.canRedo;
  }
  get beamCenter(): IBeamCenter | null {
    return this._beamCenter;
  }
  get savedName(): string {
    return this._savedName;
  }
  /** The geometry in use: from the latest preview, else the run's metadata. */
  get geometry(): IGeometryInfo | null {
    return this._preview?.geometry ?? this._info?.geometry ?? null;
  }
  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Load a run's average image and start an empty recipe on it. */
  async openRun(run: IRunRef, recipe?: IRecipe): Promise<void> {
    this._setLoad({ status: 'loading' });
    const base = `masks/runs/${encodeURIComponent(run.catalog)}/${encodeURIComponent(run.uid)}`;
    const query = run.key ? { key: run.key } : {};
    try {
      const [info, blob] = await Promise.all([
        requestAPI<IRunImageInfo>(withQuery(base, query)),
        requestBlob(withQuery(`${base}/image`, query))
      ]);
      const image = parseNpy(await blob.arrayBuffer());
      this._info = info;
      this._image = image;
      this._autoRange = autoRange(image.data, this._display.scale);
      const ref = { catalog: info.catalog, uid: info.uid, key: info.key };
      this._recipe = recipe
        ? { ...recipe, run: ref }
        : emptyRecipe([image.rows, image.cols], ref);
      this._history.clear();
      this._selected = null;
      this._beamCenter = null;
      this._setLoad({ status: 'ready' });
      this._imageChanged.emit();
      this._schedulePreview(0);
    } catch (error) {
      this._setLoad({ status: 'error', problem: toProblem(error) });
    }
  }

  /** Re-open a saved mask for editing: its run's image and its recipe. */
  async openSaved(name: string): Promise<void> {
    this._setLoad({ status: 'loading' });
    let detail: IMaskDetail;
    try {
      detail = await requestAPI<IMaskDetail>(
        `masks/${encodeURIComponent(name)}`
      );
    } catch (error) {
      this._setLoad({ status: 'error', problem: toProblem(error) });
      return;
    }
    if (!detail.recipe.run) {
      this._setLoad({
        status: 'error',
        problem: {
          error: 'No run',
          detail: `Mask '${name}' was not drawn on a run, so there is no image to edit it on.`
        }
      });
      return;
    }
    await this.openRun(detail.recipe.run, {
      ...detail.recipe,
      layers: detail.recipe.layers ?? []
    });
    this._savedName = name;
    this._changed.emit();
  }

  // -- editing ------------------------------------------------------------------------------------

  /** Replace the recipe, as one undoable step. */
  apply(next: IRecipe): void {
    if (next === this._recipe) {
      return;
    }
    this._history.record(this._recipe);
    this._recipe = next;
    this._edited();
  }

  /** Start a drag: changes until {@link endGesture} make one undo step. */
  beginGesture(): void {
    this._gestureBase = this._recipe;
  }

  /** A change in the middle of a drag: shown at once, previewed when the drag ends. */
  transient(next: IRecipe): void {
    this._recipe = next;
    this._changed.emit();
  }

  endGesture(): void {
    const base = this._gestureBase;
    this._gestureBase = null;
    if (base && base !== this._recipe) {
      this._history.record(base);
      this._edited();
    }
  }

  addLayer(layer: ILayer): void {
    this.apply({ ...this._recipe, layers: [...this._recipe.layers, layer] });
    this._selected = layer.id;
    this._changed.emit();
  }

  updateLayer(id: string, patch: Partial<ILayer>, transient = false): void {
    const layers = this._recipe.layers.map(l =>
      l.id === id ? ({ ...l, ...patch } as ILayer) : l
    );
    const next = { ...this._recipe, layers };
    if (transient) {
      this.transient(next);
    } else {
      this.apply(next);
    }
  }

  replaceLayer(layer: ILayer, transient = false): void {
    const layers = this._recipe.layers.map(l =>
      l.id === layer.id ? layer : l
    );
    const next = { ...this._recipe, layers };
    if (transient) {
      this.transient(next);
    } else {
      this.apply(next);
    }
  }

  removeLayer(id: string): void {
    this.apply({
      ...this._recipe,
      layers: this._recipe.layers.filter(l => l.id !== id)
    });
    if (this._selected === id) {
      this._selected = null;
    }
  }

  /** Move a layer `delta` places (negative = earlier, applied first). */
  moveLayer(id: string, delta: number): void {
    const layers = [...this._recipe.layers];
    const from = layers.findIndex(l => l.id === id);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= layers.length) {
      return;
    }
    const [layer] = layers.splice(from, 1);
    layers.splice(to, 0, layer);
    this.apply({ ...this._recipe, layers });
  }

  setInvert(invert: boolean): void {
    this.apply({ ...this._recipe, invert });
  }

  setRois(rois: IRoiSpec | null): void {
    this.apply({ ...this._recipe, rois });
  }

  setGeometry(geometry: IGeometrySpec | null): void {
    this.apply({ ...this._recipe, geometry });
  }

  undo(): void {
    const previous = this._history.undo(this._recipe);
    if (previous !== undefined) {
      this._recipe = previous;
      this._edited();
    }
  }

  redo(): void {
    const next = this._history.redo(this._recipe);
    if (next !== undefined) {
      this._recipe = next;
      this._edited();
    }
  }

  select(id: string | null): void {
    this._selected = id;
    this._changed.emit();
  }

  setTool(tool: Tool): void {
    this._tool = tool;
    this._draft = [];
    this._changed.emit();
  }

  /** Add a vertex to the polygon being drawn; `finish` turns the draft into a layer. */
  setDraft(points: IPoint[]): void {
    this._draft = points;
    this._changed.emit();
  }

  setDisplay(patch: Partial<IDisplay>): void {
    const scaleChanged =
      patch.scale !== undefined && patch.scale !== this._display.scale;
    this._display = { ...this._display, ...patch };
    if (scaleChanged) {
      // Limits are in the transformed values: a new scale needs new ones.
      this._display.range = null;
      if (this._image) {
        this._autoRange = autoRange(this._image.data, this._display.scale);
      }
    }
    this._imageChanged.emit();
    this._previewChanged.emit();
    this._changed.emit();
    if (patch.showRois && this._recipe.rois && !this._bits?.outline) {
      // Outlines are only sent while shown.
      this._schedulePreview(0);
    }
  }

  // -- server actions -----------------------------------------------------------------------------

  /** Upload mask files; each array becomes an exclude layer. */
  async upload(files: File[], polarity: Polarity | 'auto'): Promise<void> {
    const form = new FormData();
    for (const file of files) {
      form.append('file', file, file.name);
    }
    const run = this._recipe.run;
    const query = run
      ? { catalog: run.catalog, uid: run.uid, key: run.key ?? undefined }
      : {};
    this._message = `Uploading ${files.map(f => f.name).join(', ')}…`;
    this._problem = null;
    this._changed.emit();
    try {
      const answer = await requestAPI<IUploadList>(
        withQuery('masks/upload', query),
        { method: 'POST', body: form }
      );
      const layers: ILayer[] = answer.uploads.map(u => ({
        ...layerBase(newLayerId('upload')),
        kind: 'upload',
        upload: u.id,
        source: u.source,
        polarity: polarity === 'auto' ? u.suggested_polarity : polarity
      }));
      this._message = `Added ${layers.length} uploaded mask${layers.length === 1 ? '' : 's'}.`;
      this.apply({
        ...this._recipe,
        layers: [...this._recipe.layers, ...layers]
      });
    } catch (error) {
      this._message = '';
      this._problem = toProblem(error);
      this._changed.emit();
    }
  }

  /** Find the beam centre from the image's symmetry; {@link acceptBeamCenter} uses it. */
  async findBeamCenter(): Promise<void> {
    this._message = 'Finding the beam centre…';
    this._problem = null;
    this._changed.emit();
    try {
      this._beamCenter = await requestAPI<IBeamCenter>('masks/beam-center', {
        method: 'POST',
        body: JSON.stringify({ recipe: this._recipe })
      });
      this._message = '';
    } catch (error) {
      this._message = '';
      this._problem = toProblem(error);
    }
    this._changed.emit();
  }

  /** Use the beam centre found as an override of the geometry. */
  acceptBeamCenter(): void {
    const found = this._beamCenter;
    if (!found) {
      return;
    }
    const spec = this._recipe.geometry ?? METADATA_GEOMETRY;
    this._beamCenter = null;
    this.setGeometry({
      ...spec,
      source: spec.source === 'poni' ? 'metadata' : spec.source,
      overrides: {
        ...spec.overrides,
        beam_center_row: Math.round(found.row * 100) / 100,
        beam_center_col: Math.round(found.col * 100) / 100
      }
    });
  }

  dismissBeamCenter(): void {
    this._beamCenter = null;
    this._changed.emit();
  }

  /** Save the recipe's mask under `name`; a name in use needs `overwrite`. */
  async save(name: string, overwrite = false): Promise<boolean> {
    this._problem = null;
    this._message = `Saving ${name}…`;
    this._changed.emit();
    try {
      await requestAPI<IMaskSummary>(`masks/${encodeURIComponent(name)}`, {
        method: 'PUT',
        body: JSON.stringify({ recipe: this._recipe, overwrite })
      });
      this._savedName = name;
      this._message = `Saved as ${name}.`;
      this._changed.emit();
      await this.library.refresh();
      return true;
    } catch (error) {
      this._message = '';
      this._problem = toProblem(error);
      this._changed.emit();
      return false;
    }
  }

  dismissProblem(): void {
    this._problem = null;
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  // -- preview ------------------------------------------------------------------------------------

  private _edited(): void {
    this._changed.emit();
    this._schedulePreview(PREVIEW_DELAY_MS);
  }

  private _schedulePreview(delay: number): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._fetchPreview(), delay);
  }

  private async _fetchPreview(): Promise<void> {
    const sent = this._recipe;
    const ticket = ++this._ticket;
    this._pending += 1;
    this._changed.emit();
    try {
      const preview = await requestAPI<IPreview>('masks/preview', {
        method: 'POST',
        body: JSON.stringify({
          recipe: sent,
          outline: this._display.showRois ? 'dynamic' : 'none'
        })
      });
      // An answer to an older recipe than one already answered is dropped.
      if (ticket > this._answered && !this._disposed) {
        this._answered = ticket;
        this._preview = preview;
        this._bits = {
          mask: fromBase64(preview.mask),
          outline: preview.outline ? fromBase64(preview.outline) : null
        };
        this._previewProblem = null;
        this._previewChanged.emit();
      }
    } catch (error) {
      if (ticket > this._answered) {
        this._answered = ticket;
        this._previewProblem = toProblem(error);
      }
    } finally {
      this._pending -= 1;
      if (!this._disposed) {
        this._changed.emit();
      }
    }
  }

  private _setLoad(load: LoadState): void {
    this._load = load;
    this._changed.emit();
  }

  private _load: LoadState = { status: 'empty' };
  private _info: IRunImageInfo | null = null;
  private _image: IImage | null = null;
  private _recipe: IRecipe = emptyRecipe([1, 1], null);
  private _gestureBase: IRecipe | null = null;
  private _history = new History<IRecipe>(UNDO_STEPS);
  private _display: IDisplay = {
    scale: 'log',
    colormap: 'viridis',
    range: null,
    showMask: true,
    showRois: true,
    opacity: 0.55
  };
  private _autoRange: [number, number] = [0, 1];
  private _tool: Tool = 'pan';
  private _selected: string | null = null;
  private _draft: IPoint[] = [];
  private _preview: IPreview | null = null;
  private _bits: IPreviewBits | null = null;
  private _pending = 0;
  private _ticket = 0;
  private _answered = 0;
  private _timer = 0;
  private _previewProblem: IProblem | null = null;
  private _problem: IProblem | null = null;
  private _message = '';
  private _beamCenter: IBeamCenter | null = null;
  private _savedName = '';
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _imageChanged = new Signal<this, void>(this);
  private _previewChanged = new Signal<this, void>(this);
}
