import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { requestBlob } from '../request';
import { RunBrowserModel } from '../runs/model';
import { IMaskSummary } from './api';
import { ProblemBox } from './fields';
import { MaskLibraryModel } from './model';

/** A saved mask's small picture (white = used), fetched with the API's credentials. */
function Thumbnail(props: { name: string; modified: number }): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    let made: string | null = null;
    requestBlob(`masks/${encodeURIComponent(props.name)}/image?max_size=96`)
      .then(blob => {
        if (current) {
          made = URL.createObjectURL(blob);
          setUrl(made);
        }
      })
      .catch(() => setUrl(null));
    return () => {
      current = false;
      if (made) {
        URL.revokeObjectURL(made);
      }
    };
  }, [props.name, props.modified]);
  return url ? (
    <img
      className="jp-raydata-MaskThumb"
      src={url}
      alt={`Mask ${props.name}`}
    />
  ) : (
    <span className="jp-raydata-MaskThumb" />
  );
}

async function download(
  library: MaskLibraryModel,
  name: string,
  format: 'npy' | 'qmap' | 'edf'
) {
  const blob = await requestBlob(library.exportEndpoint(name, format));
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = {
    npy: `${name}.npy`,
    qmap: `${name}_qmap.h5`,
    edf: `${name}_pyfai.edf`
  }[format];
  link.click();
  URL.revokeObjectURL(url);
}

function MaskItem(props: {
  mask: IMaskSummary;
  library: MaskLibraryModel;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { mask, library } = props;
  const askName = async (title: string, value: string) => {
    const answer = await InputDialog.getText({ title, text: value });
    return answer.button.accept && answer.value ? answer.value : null;
  };
  return (
    <li className="jp-raydata-MaskItem" data-mask={mask.name}>
      <Thumbnail name={mask.name} modified={mask.modified} />
      <div className="jp-raydata-MaskItem-text">
        <strong>{mask.name}</strong>
        <span className="jp-raydata-muted">
          {mask.shape[0]}×{mask.shape[1]}, {mask.masked.toLocaleString()} masked
          {mask.rois ? `, ${mask.rois} ROIs` : ''}
        </span>
        <div className="jp-raydata-ButtonRow">
          <button
            className="jp-mod-styled"
            onClick={() => props.onOpen(mask.name)}
          >
            Open
          </button>
          <button
            className="jp-mod-styled"
            onClick={async () => {
              const to = await askName(`Rename ${mask.name}`, mask.name);
              if (to && to !== mask.name) {
                await library.rename(mask.name, to);
              }
            }}
          >
            Rename
          </button>
          <button
            className="jp-mod-styled"
            onClick={async () => {
              const to = await askName(
                `Copy ${mask.name} as`,
                `${mask.name}-copy`
              );
              if (to) {
                await library.duplicate(mask.name, to);
              }
            }}
          >
            Duplicate
          </button>
          <button
            className="jp-mod-styled"
            onClick={async () => {
              const answer = await showDialog({
                title: `Delete ${mask.name}?`,
                body: `Its folder in ${library.folder} goes with it.`,
                buttons: [
                  Dialog.cancelButton(),
                  Dialog.warnButton({ label: 'Delete' })
                ]
              });
              if (answer.button.accept) {
                await library.remove(mask.name);
              }
            }}
          >
            Delete
          </button>
          <select
            className="jp-mod-styled"
            aria-label={`Export ${mask.name}`}
            value=""
            onChange={e => {
              const format = e.target.value as 'npy' | 'qmap' | 'edf' | '';
              if (format) {
                void download(library, mask.name, format);
              }
            }}
          >
            <option value="">Export…</option>
            <option value="npy">pyCHX .npy (1 = used)</option>
            <option value="qmap" disabled={!mask.rois}>
              APS /qmap HDF5
            </option>
            <option value="edf">pyFAI EDF (1 = masked)</option>
          </select>
        </div>
      </div>
    </li>
  );
}

/**
 * The sidebar's "Masks" section: compose a mask on the run shown in Metadata, and the saved masks.
 */
export function MasksSection(props: {
  library: MaskLibraryModel;
  runs: RunBrowserModel;
  onCompose: (catalog: string, uid: string) => void;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { library, runs } = props;
  const detail = runs.detail;
  const run =
    detail.status === 'ready' &&
    detail.detail.image_keys.length > 0 &&
    runs.catalog
      ? {
          catalog: runs.catalog,
          uid: detail.uid,
          scan: detail.detail.start.scan_id
        }
      : null;
  useEffect(() => {
    if (!library.loaded) {
      void library.refresh();
    }
  }, [library]);
  return (
    <div className="jp-raydata-Masks">
      <div className="jp-raydata-ButtonRow">
        <button
          className="jp-mod-styled"
          disabled={!run}
          onClick={() => run && props.onCompose(run.catalog, run.uid)}
          title={
            run
              ? 'Open the mask composer on this run'
              : 'Pick a run with detector images first'
          }
        >
          Compose a mask
        </button>
        <span className="jp-raydata-muted">
          {run
            ? `on scan ${String(run.scan ?? run.uid.slice(0, 8))}`
            : 'Pick a run with detector images in Runs.'}
        </span>
      </div>
      {library.problem && <ProblemBox problem={library.problem} />}
      {library.loaded && library.masks.length === 0 && !library.problem && (
        <p className="jp-raydata-muted">
          No saved masks in {library.folder} yet.
        </p>
      )}
      <ul className="jp-raydata-MaskList" aria-label="Saved masks">
        {library.masks.map(mask => (
          <MaskItem
            key={mask.name}
            mask={mask}
            library={library}
            onOpen={props.onOpen}
          />
        ))}
      </ul>
      {library.masks.length > 0 && (
        <p className="jp-raydata-muted">
          In {library.folder}/ under the server's root.
        </p>
      )}
    </div>
  );
}
