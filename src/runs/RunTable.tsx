import {
  ColDef,
  GetRowIdParams,
  GridApi,
  GridReadyEvent,
  IDatasource,
  IGetRowsParams,
  InfiniteRowModelModule,
  Module,
  RowSelectionModule,
  RowSelectionOptions,
  TooltipModule,
  themeQuartz
} from 'ag-grid-community';
import { AgGridReact } from 'ag-grid-react';
import React, { useEffect, useMemo, useRef } from 'react';

import { IRunRow } from '../api';
import { RunBrowserModel } from './model';
import { formatTime } from './timeRange';
import { compactValue } from './values';

const MODULES: Module[] = [
  InfiniteRowModelModule,
  RowSelectionModule,
  TooltipModule
];

/** Rows per request: one screenful and a little more. */
const BLOCK_SIZE = 100;

/** The grid drawn with JupyterLab's own colours and fonts, so both light and dark themes work. */
const THEME = themeQuartz.withParams({
  accentColor: 'var(--jp-brand-color1)',
  backgroundColor: 'var(--jp-layout-color1)',
  foregroundColor: 'var(--jp-ui-font-color1)',
  borderColor: 'var(--jp-border-color2)',
  chromeBackgroundColor: 'var(--jp-layout-color2)',
  headerTextColor: 'var(--jp-ui-font-color1)',
  oddRowBackgroundColor: 'var(--jp-layout-color1)',
  selectedRowBackgroundColor: 'var(--jp-brand-color3)',
  fontFamily: 'var(--jp-ui-font-family)',
  fontSize: 12,
  spacing: 4,
  wrapperBorderRadius: 0
});

const ROW_SELECTION: RowSelectionOptions = {
  mode: 'multiRow',
  checkboxes: true,
  headerCheckbox: false,
  enableClickSelection: false
};

const BASE_COLUMNS: ColDef<IRunRow>[] = [
  { colId: 'scan_id', headerName: 'Scan', field: 'scan_id', width: 80 },
  {
    colId: 'time',
    headerName: 'Start',
    field: 'time',
    width: 150,
    valueFormatter: p => (p.value ? formatTime(p.value) : '')
  },
  { colId: 'plan_name', headerName: 'Plan', field: 'plan_name', width: 110 },
  { colId: 'owner', headerName: 'Owner', field: 'owner', width: 90 },
  {
    colId: 'exit_status',
    headerName: 'Exit',
    field: 'exit_status',
    width: 80,
    valueFormatter: p => p.value ?? 'running'
  }
];

function startDocColumn(key: string): ColDef<IRunRow> {
  return {
    colId: key,
    headerName: key,
    width: 120,
    valueGetter: p => p.data?.columns[key],
    valueFormatter: p => compactValue(p.value),
    tooltipValueGetter: p => compactValue(p.value, 400)
  };
}

/**
 * The run table: server-side paging (infinite scroll) and multi-column sort (shift-click a
 * second header), checkbox selection, a row count. Clicking a row shows its metadata.
 */
export function RunTable(props: { model: RunBrowserModel }): JSX.Element {
  const { model } = props;
  const api = useRef<GridApi<IRunRow> | null>(null);

  const columnDefs = useMemo(
    () => [...BASE_COLUMNS, ...model.columns.map(startDocColumn)],
    [model.columns]
  );

  const datasource = useMemo<IDatasource>(
    () => ({
      getRows: (params: IGetRowsParams) => {
        model.setSort(
          params.sortModel.map(s => ({
            key: s.colId,
            descending: s.sort === 'desc'
          }))
        );
        model
          .fetchRows(params.startRow, params.endRow - params.startRow)
          .then(page => params.successCallback(page.runs, page.total))
          .catch(() => params.failCallback());
      }
    }),
    [model]
  );

  // Bring a column the user just added into view: new columns land at the right edge.
  const shownColumns = useRef(model.columns);
  useEffect(() => {
    const added = model.columns.filter(c => !shownColumns.current.includes(c));
    shownColumns.current = model.columns;
    if (added.length) {
      api.current?.ensureColumnVisible(added[added.length - 1]);
    }
  }, [model.columns]);

  useEffect(() => {
    const restart = () => {
      api.current?.purgeInfiniteCache();
      api.current?.ensureIndexVisible(0, 'top');
    };
    const refresh = () => api.current?.refreshInfiniteCache();
    model.searchChanged.connect(restart);
    model.rowsStale.connect(refresh);
    return () => {
      model.searchChanged.disconnect(restart);
      model.rowsStale.disconnect(refresh);
    };
  }, [model]);

  const selectVisible = () => {
    const grid = api.current;
    if (!grid) {
      return;
    }
    const last = grid.getLastDisplayedRowIndex();
    for (let i = grid.getFirstDisplayedRowIndex(); i <= last; i++) {
      const node = grid.getDisplayedRowAtIndex(i);
      if (node?.data) {
        node.setSelected(true);
      }
    }
  };

  const total = model.total;
  const selected = model.selected.size;
  return (
    <div className="jp-raydata-RunTable">
      <div className="jp-raydata-RunTable-grid" data-testid="run-grid">
        <AgGridReact<IRunRow>
          modules={MODULES}
          theme={THEME}
          columnDefs={columnDefs}
          defaultColDef={{ sortable: true, resizable: true }}
          suppressColumnVirtualisation={true}
          rowHeight={26}
          headerHeight={28}
          rowModelType="infinite"
          datasource={datasource}
          cacheBlockSize={BLOCK_SIZE}
          maxBlocksInCache={50}
          infiniteInitialRowCount={1}
          getRowId={(p: GetRowIdParams<IRunRow>) => p.data.uid}
          rowSelection={ROW_SELECTION}
          onGridReady={(e: GridReadyEvent<IRunRow>) => {
            api.current = e.api;
          }}
          onSelectionChanged={e =>
            model.setSelection(e.api.getSelectedRows().map(r => r.uid))
          }
          onRowClicked={e => {
            if (e.data) {
              void model.activate(e.data.uid);
            }
          }}
          rowClassRules={{
            'jp-raydata-mod-active': p =>
              model.detail.status !== 'none' && p.data?.uid === model.detail.uid
          }}
        />
      </div>
      <div className="jp-raydata-RunTable-footer">
        <span className="jp-raydata-RunTable-count" data-testid="run-count">
          {total === null
            ? 'Loading runs…'
            : `${total.toLocaleString()} run${total === 1 ? '' : 's'}`}
          {!model.complete && ' (still indexing older runs)'}
          {model.stale && ' (catalog unreachable: showing the last known runs)'}
          {selected > 0 && ` · ${selected} selected`}
        </span>
        <button className="jp-mod-styled" onClick={selectVisible}>
          Select visible
        </button>
        <button
          className="jp-mod-styled"
          disabled={selected === 0}
          onClick={() => api.current?.deselectAll()}
        >
          Clear
        </button>
      </div>
    </div>
  );
}
