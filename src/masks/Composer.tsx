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
import { NumberField } from './fields';
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
      {preview.dynamic && (
        <>
          <dt>Dynamic ROIs</dt>
          <dd data-field="dynamic">
            {preview.dynamic.n} ({preview.dynamic.n_pixels_min.toLocaleString()}
            –{preview.dynamic.n_pixels_max.toLocaleString()} px each)
          </dd>
        </>
      )}
      {preview.static && (
        <>
          <dt>Static ROIs</dt>
          <dd data-field="static">
            {preview.static.n} ({preview.static.n_pixels_min.toLocaleString()}–
            {preview.static.n_pixels_max.toLocaleString()} px each)
          </dd>
        </>
      )}
    </dl>
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
  const fileRef = useRef<HTMLInputElement>(null);
  const [polarity, setPolarity] = useState<Polarity | 'auto'>('auto');
  const names = model.library.masks.map(m => m.name);
  const add = (kind: LayerKind) => {
    const layer = newLayer(kind);
    if (layer) {
      model.addLayer(layer);
    }
  };
  const thresholds: LayerKind[] = [
    'hot_pixels',
    'dead_pixels',
    'never_counted',
    'value_range',
    'ring_outliers'
  ];
  return (
    <>
      <div className="jp-raydata-ButtonRow" aria-label="Add a threshold">
        {thresholds.map(kind => (
          <button
            key={kind}
            className="jp-mod-styled"
            onClick={() => add(kind)}
          >
            {KIND_LABELS[kind]}
          </button>
        ))}
      </div>
      <div className="jp-raydata-ButtonRow" aria-label="Add a region">
        {(['beamstop', 'q_range', 'phi_range'] as LayerKind[]).map(kind => (
          <button
            key={kind}
            className="jp-mod-styled"
            onClick={() => add(kind)}
          >
            {KIND_LABELS[kind]}
          </button>
        ))}
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
        <button
          className="jp-mod-styled"
          onClick={() => fileRef.current?.click()}
        >
          Upload mask files…
        </button>
        <input
          ref={fileRef}
          type="file"
          multiple
          hidden
          aria-label="Upload mask files"
          accept=".npy,.tif,.tiff,.edf,.h5,.hdf5,.zip"
          onChange={e => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length) {
              void model.upload(files, polarity);
            }
          }}
        />
      </div>
    </>
  );
}

function GeometryPanel(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const poniRef = useRef<HTMLInputElement>(null);
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
        <button
          className="jp-mod-styled"
          onClick={() => poniRef.current?.click()}
        >
          Load PONI file…
        </button>
        <input
          ref={poniRef}
          type="file"
          hidden
          accept=".poni"
          aria-label="PONI file"
          onChange={async e => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) {
              model.setGeometry({
                ...METADATA_GEOMETRY,
                source: 'poni',
                poni: await file.text()
              });
            }
          }}
        />
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

function RoiPanel(props: { model: MaskComposerModel }): JSX.Element {
  const { model } = props;
  const rois = model.recipe.rois;
  const kind = rois?.kind ?? 'none';
  const set = (patch: Partial<IRoiSpec>) =>
    model.setRois({ ...(rois ?? NO_ROIS), ...patch });
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
            } else if (value === 'rings') {
              const base = rois ?? NO_ROIS;
              model.setRois({
                ...base,
                kind: 'rings',
                dynamic: { q: base.dynamic.q, phi: 1 },
                static: { q: base.static.q, phi: 1 }
              });
            } else {
              const base = rois ?? NO_ROIS;
              model.setRois({
                ...base,
                kind: 'qphi',
                dynamic: { q: base.dynamic.q, phi: 4 },
                static: { q: base.static.q, phi: 36 }
              });
            }
          }}
        />
      </label>
      {rois && (
        <div className="jp-raydata-FieldGrid">
          <NumberField
            label="Dynamic q"
            value={rois.dynamic.q}
            onCommit={q => q && set({ dynamic: { ...rois.dynamic, q } })}
          />
          <NumberField
            label="Static q"
            value={rois.static.q}
            onCommit={q => q && set({ static: { ...rois.static, q } })}
          />
          {rois.kind === 'qphi' && (
            <>
              <NumberField
                label="Dynamic φ"
                value={rois.dynamic.phi}
                onCommit={phi =>
                  phi && set({ dynamic: { ...rois.dynamic, phi } })
                }
              />
              <NumberField
                label="Static φ"
                value={rois.static.phi}
                onCommit={phi =>
                  phi && set({ static: { ...rois.static, phi } })
                }
              />
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
      {load.status === 'error' && (
        <div className="jp-raydata-Error" role="alert">
          <p>
            <strong>{load.problem.error}</strong>
          </p>
          <p>{load.problem.detail}</p>
        </div>
      )}
      {(model.problem || model.previewProblem) && (
        <div
          className="jp-raydata-Error"
          role="alert"
          data-testid="composer-problem"
        >
          <p>
            <strong>{(model.problem ?? model.previewProblem)!.error}</strong>
          </p>
          <p>{(model.problem ?? model.previewProblem)!.detail}</p>
          {model.problem && (
            <button
              className="jp-mod-styled"
              onClick={() => model.dismissProblem()}
            >
              Dismiss
            </button>
          )}
        </div>
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
              <label>
                <input
                  type="checkbox"
                  checked={model.display.showMask}
                  onChange={e =>
                    model.setDisplay({ showMask: e.target.checked })
                  }
                />{' '}
                Mask
              </label>
              <label>
                <input
                  type="checkbox"
                  checked={model.display.showRois}
                  onChange={e =>
                    model.setDisplay({ showRois: e.target.checked })
                  }
                />{' '}
                ROIs
              </label>
            </div>
            <div className="jp-raydata-FieldGrid">
              <NumberField
                label="Low"
                value={model.display.range ? model.display.range[0] : null}
                optional
                placeholder={model.range[0].toPrecision(3)}
                onCommit={lo =>
                  model.setDisplay({
                    range: lo === null ? null : [lo, model.range[1]]
                  })
                }
              />
              <NumberField
                label="High"
                value={model.display.range ? model.display.range[1] : null}
                optional
                placeholder={model.range[1].toPrecision(3)}
                onCommit={hi =>
                  model.setDisplay({
                    range: hi === null ? null : [model.range[0], hi]
                  })
                }
              />
            </div>
          </Panel>
          <Panel title="Add">
            <AddLayers model={model} />
          </Panel>
          <Panel title="Layers">
            <LayerList model={model} />
            <label>
              <input
                type="checkbox"
                checked={model.recipe.invert}
                onChange={e => model.setInvert(e.target.checked)}
              />{' '}
              Invert the result
            </label>
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
