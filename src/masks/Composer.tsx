import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import React, { useRef, useState } from 'react';

import { Choice } from '../components/Choice';
import {
  IGeometrySpec,
  ILayer,
  IRoiSpec,
  layerBase,
  LayerKind,
  METADATA_GEOMETRY,
  Polarity
} from './api';
import { COLORMAPS, ColormapName, Scale } from './colormap';
import { NumberField, ProblemBox } from './fields';
import { KIND_LABELS, LayerList } from './LayerList';
import { MaskCanvas } from './MaskCanvas';
import { MaskComposerModel, newLayerId, Tool } from './model';

const TOOLS: Record<Tool, string> = {
  pan: 'Select / pan',
  circle: 'Circle',
  annulus: 'Annulus',
  rectangle: 'Rectangle',
  polygon: 'Polygon',
  line: 'Line'
};

const SCALES: Record<Scale, string> = { log: 'Log', linear: 'Linear' };

/** Layers added with a button, with their starting values. */
function newLayer(kind: LayerKind): ILayer | null {
  const base = layerBase(newLayerId(kind));
  switch (kind) {
    case 'hot_pixels':
      return { ...base, kind, sigma: 8, window: 3 };
    case 'dead_pixels':
      return { ...base, kind, fraction: 0, window: 3 };
    case 'never_counted':
      return { ...base, kind };
    case 'value_range':
      return { ...base, kind, vmin: 0, vmax: null };
    case 'ring_outliers':
      return { ...base, kind, n_rings: 100, sigma: 5 };
    case 'beamstop':
      return {
        ...base,
        kind,
        row: null,
        col: null,
        radius: 20,
        arm_angle: null,
        arm_width: 0
      };
    case 'q_range':
      return { ...base, kind, q_min: null, q_max: null };
    case 'phi_range':
      return { ...base, kind, start: -10, stop: 10 };
    default:
      return null;
  }
}

function percent(part: number, whole: number): string {
  return whole ? `${((100 * part) / whole).toFixed(2)}%` : '';
}

function Counts(props: { model: MaskComposerModel }): JSX.Element {
  const preview = props.model.preview;
  if (!preview) {
    return <p className="jp-raydata-muted">Counting…</p>;
  }
  return (
    <dl className="jp-raydata-Fields" data-testid="mask-counts">
      <dt>Used</dt>
      <dd data-field="used">{preview.used.toLocaleString()}</dd>
      <dt>Masked</dt>
      <dd data-field="masked">
        {preview.masked.toLocaleString()} (
        {percent(preview.masked, preview.total)})
      </dd>
      <dt>Pixels</dt>
      <dd>{preview.total.toLocaleString()}</dd>
      {(['dynamic', 'static'] as const).map(which => {
        const rois = preview[which];
        return (
          rois && (
            <React.Fragment key={which}>
              <dt>{which === 'dynamic' ? 'Dynamic' : 'Static'} ROIs</dt>
              <dd data-field={which}>
                {rois.n} ({rois.n_pixels_min.toLocaleString()}–
                {rois.n_pixels_max.toLocaleString()} px each)
              </dd>
            </React.Fragment>
          )
        );
      })}
    </dl>
  );
}

/** A button that opens the browser's file chooser; `onFiles` gets the chosen files, if any. */
function FilePicker(props: {
  label: string;
  accept: string;
  multiple?: boolean;
  onFiles: (files: File[]) => void;
  children: React.ReactNode;
}): JSX.Element {
  const ref = useRef<HTMLInputElement>(null);
  return (
    <>
      <button className="jp-mod-styled" onClick={() => ref.current?.click()}>
        {props.children}
      </button>
      <input
        ref={ref}
        type="file"
        multiple={props.multiple}
        hidden
        aria-label={props.label}
        accept={props.accept}
        onChange={e => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length) {
            props.onFiles(files);
          }
        }}
      />
    </>
  );
}

function Checkbox(props: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <label>
      <input
        type="checkbox"
        checked={props.checked}
        onChange={e => props.onChange(e.target.checked)}
      />{' '}
      {props.children}
    </label>
  );
}

function Panel(props: {
  title: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-raydata-ComposerPanel" aria-label={props.title}>
      <h4>{props.title}</h4>
      {props.children}
    </section>
  );
}

function AddLayers(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const [polarity, setPolarity] = useState<Polarity | 'auto'>('auto');
  const names = model.library.masks.map(m => m.name);
  const add = (kind: LayerKind) => {
    const layer = newLayer(kind);
    if (layer) {
      model.addLayer(layer);
    }
  };
  const buttons = (kinds: LayerKind[]) =>
    kinds.map(kind => (
      <button key={kind} className="jp-mod-styled" onClick={() => add(kind)}>
        {KIND_LABELS[kind]}
      </button>
    ));
  return (
    <>
      <div className="jp-raydata-ButtonRow" aria-label="Add a threshold">
        {buttons([
          'hot_pixels',
          'dead_pixels',
          'never_counted',
          'value_range',
          'ring_outliers'
        ])}
      </div>
      <div className="jp-raydata-ButtonRow" aria-label="Add a region">
        {buttons(['beamstop', 'q_range', 'phi_range'])}
        <select
          className="jp-mod-styled"
          aria-label="Add a library mask"
          value=""
          onChange={e =>
            e.target.value &&
            model.addLayer({
              ...layerBase(newLayerId('library')),
              kind: 'library',
              name: e.target.value
            })
          }
        >
          <option value="">Library mask…</option>
          {names.map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <div className="jp-raydata-ButtonRow">
        <select
          className="jp-mod-styled"
          aria-label="Upload polarity"
          value={polarity}
          onChange={e => setPolarity(e.target.value as Polarity | 'auto')}
          title="What a non-zero value means in the uploaded files"
        >
          <option value="auto">non-zero: by file type</option>
          <option value="used">non-zero = used (pyCHX, APS)</option>
          <option value="masked">non-zero = masked (silx, pyFAI, EDF)</option>
        </select>
        <FilePicker
          label="Upload mask files"
          accept=".npy,.tif,.tiff,.edf,.h5,.hdf5,.zip"
          multiple
          onFiles={files => void model.upload(files, polarity)}
        >
          Upload mask files…
        </FilePicker>
      </div>
    </>
  );
}

function GeometryPanel(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const spec: IGeometrySpec = model.recipe.geometry ?? METADATA_GEOMETRY;
  const shown = model.geometry;
  const set = (patch: Partial<IGeometrySpec['overrides']>) =>
    model.setGeometry({ ...spec, overrides: { ...spec.overrides, ...patch } });
  const field = (
    key: keyof IGeometrySpec['overrides'],
    label: string,
    current: number | undefined
  ) => (
    <NumberField
      label={label}
      value={spec.overrides[key] ?? null}
      optional
      placeholder={
        current === undefined ? '' : String(Number(current.toPrecision(6)))
      }
      onCommit={value => set({ [key]: value })}
    />
  );
  const error = model.preview?.geometry_error || model.info?.geometry_error;
  return (
    <>
      <label className="jp-raydata-Field">
        <span>From</span>
        <Choice
          label="Geometry source"
          value={spec.source}
          options={{
            metadata: 'Run metadata',
            manual: 'Entered here',
            poni: 'PONI file'
          }}
          onChange={source => model.setGeometry({ ...spec, source })}
        />
      </label>
      {spec.source !== 'poni' && (
        <div className="jp-raydata-FieldGrid">
          {field('beam_center_row', 'Beam row', shown?.beam_center_row)}
          {field('beam_center_col', 'Beam col', shown?.beam_center_col)}
          {field('distance_m', 'Distance (m)', shown?.distance_m)}
          {field('energy_keV', 'Energy (keV)', shown?.energy_keV)}
          {field('pixel_size_m', 'Pixel (m)', shown?.pixel_size_m)}
        </div>
      )}
      {spec.source === 'poni' && shown && (
        <p className="jp-raydata-muted">
          Beam ({shown.beam_center_row.toFixed(2)},{' '}
          {shown.beam_center_col.toFixed(2)}), {shown.distance_m.toFixed(3)} m,{' '}
          {shown.energy_keV.toFixed(3)} keV, tilt{' '}
          {(shown.tilt_deg ?? 0).toFixed(2)}°
        </p>
      )}
      {error && <p className="jp-raydata-muted">{error}</p>}
      <div className="jp-raydata-ButtonRow">
        <button
          className="jp-mod-styled"
          onClick={() => void model.findBeamCenter()}
        >
          Find beam centre
        </button>
        <FilePicker
          label="PONI file"
          accept=".poni"
          onFiles={async ([file]) =>
            model.setGeometry({
              ...METADATA_GEOMETRY,
              source: 'poni',
              poni: await file.text()
            })
          }
        >
          Load PONI file…
        </FilePicker>
      </div>
      {model.beamCenter && (
        <div className="jp-raydata-Notice" data-testid="beam-center">
          Found the beam at row {model.beamCenter.row.toFixed(2)}, col{' '}
          {model.beamCenter.col.toFixed(2)}.{' '}
          <button
            className="jp-mod-styled"
            onClick={() => model.acceptBeamCenter()}
          >
            Use it
          </button>{' '}
          <button
            className="jp-mod-styled"
            onClick={() => model.dismissBeamCenter()}
          >
            Dismiss
          </button>
        </div>
      )}
    </>
  );
}

const NO_ROIS: IRoiSpec = {
  kind: 'rings',
  dynamic: { q: 10, phi: 1 },
  static: { q: 100, phi: 1 },
  q_min: null,
  q_max: null,
  spacing: 'linear',
  phi_min: -180,
  phi_max: 180
};

/** The φ partitions (dynamic, static) each ROI kind starts with. */
const PHI_PARTITIONS: Record<IRoiSpec['kind'], [number, number]> = {
  rings: [1, 1],
  qphi: [4, 36]
};

function RoiPanel(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const rois = model.recipe.rois;
  const kind = rois?.kind ?? 'none';
  const set = (patch: Partial<IRoiSpec>) =>
    model.setRois({ ...(rois ?? NO_ROIS), ...patch });
  /** The number of q or φ partitions of the dynamic or static ROIs (never set to 0). */
  const partition = (which: 'dynamic' | 'static', axis: 'q' | 'phi') =>
    rois && (
      <NumberField
        label={`${which === 'dynamic' ? 'Dynamic' : 'Static'} ${axis === 'q' ? 'q' : 'φ'}`}
        value={rois[which][axis]}
        onCommit={n => n && set({ [which]: { ...rois[which], [axis]: n } })}
      />
    );
  return (
    <>
      <label className="jp-raydata-Field">
        <span>ROIs</span>
        <Choice
          label="ROI kind"
          value={kind}
          options={{ none: 'None', rings: 'q rings', qphi: 'q-φ partitions' }}
          onChange={value => {
            if (value === 'none') {
              model.setRois(null);
            } else {
              const base = rois ?? NO_ROIS;
              const [dynamicPhi, staticPhi] = PHI_PARTITIONS[value];
              model.setRois({
                ...base,
                kind: value,
                dynamic: { q: base.dynamic.q, phi: dynamicPhi },
                static: { q: base.static.q, phi: staticPhi }
              });
            }
          }}
        />
      </label>
      {rois && (
        <div className="jp-raydata-FieldGrid">
          {partition('dynamic', 'q')}
          {partition('static', 'q')}
          {rois.kind === 'qphi' && (
            <>
              {partition('dynamic', 'phi')}
              {partition('static', 'phi')}
            </>
          )}
          <NumberField
            label="q min"
            value={rois.q_min}
            optional
            onCommit={q_min => set({ q_min })}
          />
          <NumberField
            label="q max"
            value={rois.q_max}
            optional
            onCommit={q_max => set({ q_max })}
          />
          <label className="jp-raydata-NumberField">
            <span>Spacing</span>
            <Choice
              label="Ring spacing"
              value={rois.spacing}
              options={{ linear: 'Linear', log: 'Log' }}
              onChange={spacing => set({ spacing })}
            />
          </label>
        </div>
      )}
    </>
  );
}

function SavePanel(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const [name, setName] = useState(model.savedName);
  const exists = model.library.masks.some(m => m.name === name);
  return (
    <form
      className="jp-raydata-ButtonRow"
      onSubmit={e => {
        e.preventDefault();
        if (name) {
          void model.save(name, exists);
        }
      }}
    >
      <input
        className="jp-mod-styled"
        aria-label="Mask name"
        placeholder="name, e.g. sample-A"
        value={name}
        onChange={e => setName(e.target.value)}
        onKeyDown={e => e.stopPropagation()}
      />
      <button className="jp-mod-styled" type="submit" disabled={!name}>
        {exists ? 'Replace' : 'Save'}
      </button>
    </form>
  );
}

/**
 * The mask composer: the drawing surface and, beside it, tools, layers, geometry, ROIs, counts and
 * saving. Views only: {@link MaskComposerModel} owns the state.
 */
export function Composer(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const load = model.load;
  const info = model.info;
  return (
    <div className="jp-raydata-Composer" data-status={load.status}>
      <header className="jp-raydata-Composer-header">
        <strong>
          {info
            ? `Scan ${info.scan_id ?? '?'} · ${info.uid.slice(0, 8)}`
            : 'Mask composer'}
        </strong>
        {info && (
          <span className="jp-raydata-muted">
            {info.key}, {info.shape[0]}×{info.shape[1]}, average of{' '}
            {info.frames_read} of {info.frames_total} frames
          </span>
        )}
        <span className="jp-raydata-Composer-spacer" />
        {model.previewPending && (
          <span className="jp-raydata-muted">updating…</span>
        )}
        <button
          className="jp-mod-styled"
          disabled={!model.canUndo}
          onClick={() => model.undo()}
          title="Undo (Ctrl+Z)"
        >
          Undo
        </button>
        <button
          className="jp-mod-styled"
          disabled={!model.canRedo}
          onClick={() => model.redo()}
          title="Redo (Ctrl+Shift+Z)"
        >
          Redo
        </button>
      </header>
      {load.status === 'loading' && (
        <p className="jp-raydata-muted">Loading the run's average image…</p>
      )}
      {load.status === 'error' && <ProblemBox problem={load.problem} />}
      {(model.problem || model.previewProblem) && (
        <ProblemBox
          problem={(model.problem ?? model.previewProblem)!}
          testId="composer-problem"
          onDismiss={model.problem ? () => model.dismissProblem() : undefined}
        />
      )}
      {model.message && <p className="jp-raydata-muted">{model.message}</p>}
      <div className="jp-raydata-Composer-body">
        <MaskCanvas model={model} />
        <aside className="jp-raydata-Composer-side">
          <Panel title="Draw">
            <div
              className="jp-raydata-ButtonRow"
              role="radiogroup"
              aria-label="Tool"
            >
              {(Object.entries(TOOLS) as [Tool, string][]).map(
                ([tool, label]) => (
                  <button
                    key={tool}
                    role="radio"
                    aria-checked={model.tool === tool}
                    className="jp-mod-styled jp-raydata-Tool"
                    onClick={() => model.setTool(tool)}
                  >
                    {label}
                  </button>
                )
              )}
            </div>
            {model.tool === 'polygon' && (
              <p className="jp-raydata-muted">
                Click the vertices; double-click or Enter closes the polygon.
              </p>
            )}
          </Panel>
          <Panel title="Display">
            <div className="jp-raydata-ButtonRow">
              <Choice
                label="Scale"
                value={model.display.scale}
                options={SCALES}
                onChange={scale => model.setDisplay({ scale })}
              />
              <Choice
                label="Colour map"
                value={model.display.colormap}
                options={COLORMAPS}
                onChange={(colormap: ColormapName) =>
                  model.setDisplay({ colormap })
                }
              />
              <Checkbox
                checked={model.display.showMask}
                onChange={showMask => model.setDisplay({ showMask })}
              >
                Mask
              </Checkbox>
              <Checkbox
                checked={model.display.showRois}
                onChange={showRois => model.setDisplay({ showRois })}
              >
                ROIs
              </Checkbox>
            </div>
            <div className="jp-raydata-FieldGrid">
              {(['Low', 'High'] as const).map((label, end) => (
                <NumberField
                  key={label}
                  label={label}
                  value={model.display.range ? model.display.range[end] : null}
                  optional
                  placeholder={model.range[end].toPrecision(3)}
                  onCommit={value =>
                    model.setDisplay({
                      range:
                        value === null
                          ? null
                          : end === 0
                            ? [value, model.range[1]]
                            : [model.range[0], value]
                    })
                  }
                />
              ))}
            </div>
          </Panel>
          <Panel title="Add">
            <AddLayers model={model} />
          </Panel>
          <Panel title="Layers">
            <LayerList model={model} />
            <Checkbox
              checked={model.recipe.invert}
              onChange={invert => model.setInvert(invert)}
            >
              Invert the result
            </Checkbox>
          </Panel>
          <Panel title="Counts">
            <Counts model={model} />
          </Panel>
          <Panel title="Geometry">
            <GeometryPanel model={model} />
          </Panel>
          <Panel title="ROIs">
            <RoiPanel model={model} />
          </Panel>
          <Panel title="Save">
            <SavePanel model={model} />
          </Panel>
        </aside>
      </div>
    </div>
  );
}

/** The composer as a JupyterLab widget (the plugin wraps it in a main-area tab). */
export class ComposerWidget extends ReactWidget {
  constructor(readonly model: MaskComposerModel) {
    super();
    this.addClass('jp-raydata-ComposerWidget');
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <Composer model={this.model} />}
      </UseSignal>
    );
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}
