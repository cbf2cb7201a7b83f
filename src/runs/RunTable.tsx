import {
  ColDef,
  ColumnApiModule,
  ColumnState,
  GetRowIdParams,
  GridApi,
  GridReadyEvent,
  IDatasource,
  IGetRowsParams,
  InfiniteRowModelModule,
  Module,
  RenderApiModule,
  RowApiModule,
  RowSelectedEvent,
  RowSelectionModule,
  RowSelectionOptions,
  RowStyleModule,
  ScrollApiModule,
  SelectionColumnDef,
  TooltipModule,
  themeQuartz
} from 'ag-grid-community';
import { AgGridReact } from 'ag-grid-react';
import React, { useEffect, useMemo, useRef } from 'react';

import { IRunRow } from '../api';
import { RunBrowserModel } from './model';
import { ISortKey } from './sort';
import { formatTime } from './timeRange';
import { compactValue } from './values';

// Each API call needs its module: column state (sort shared between tables), rows (selection shared
// between tables), scrolling (back to the top on a new search).
const MODULES: Module[] = [
  InfiniteRowModelModule,
  RowSelectionModule,
  TooltipModule,
  ColumnApiModule,
  RowApiModule,
  ScrollApiModule,
  // refreshCells: the Job column follows the queue; redrawRows: the opened run's mark.
  RenderApiModule,
  // rowClassRules: the opened run is marked.
  RowStyleModule
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

/**
 * The sidebar's narrower cut of the same columns: the start without year and seconds and tighter
 * widths, so that scan, start and plan fit its default width (250 px) beside the tick boxes; the
 * rest scroll into view, and the wide table shows them all.
 */
const COMPACT_WIDTHS: Record<string, number> = {
  scan_id: 52,
  time: 82,
  plan_name: 58,
  owner: 60,
  exit_status: 60
};
const COMPACT_SELECTION: SelectionColumnDef = { width: 30, minWidth: 30 };
/** The wide table shares its width among the columns (in their usual proportions), none narrower than this. */
const WIDE_MIN_WIDTH = 72;

function wideColumn(column: ColDef<IRunRow>): ColDef<IRunRow> {
  return {
    ...column,
    width: undefined,
    flex: column.width,
    minWidth: WIDE_MIN_WIDTH
  };
}

function compactColumn(column: ColDef<IRunRow>): ColDef<IRunRow> {
  const compact = { ...column, width: COMPACT_WIDTHS[column.colId!] };
  if (column.colId === 'time') {
    compact.valueFormatter = p => (p.value ? formatTime(p.value, true) : '');
    compact.tooltipValueGetter = p => (p.value ? formatTime(p.value) : '');
  }
  return compact;
}

/** The grid's sort state for the model's sort keys (no key: no sort arrow). */
function sortState(sort: ISortKey[]): ColumnState[] {
  return sort.map((key, i) => ({
    colId: key.key,
    sort: key.descending ? 'desc' : 'asc',
    sortIndex: i
  }));
}

/** Tick exactly the model's selection among the rows this grid has loaded. */
function showSelection(grid: GridApi<IRunRow>, selected: ReadonlySet<string>) {
  grid.forEachNode(node => {
    const want = node.data ? selected.has(node.data.uid) : false;
    if (node.data && node.isSelected() !== want) {
      node.setSelected(want, false, 'api');
    }
  });
}

/** The state of the run's latest analysis job (from the jobs the queue knows). */
function jobColumn(model: RunBrowserModel): ColDef<IRunRow> {
  return {
    colId: 'job',
    headerName: 'Job',
    width: 76,
    sortable: false,
    valueGetter: p => (p.data ? (model.jobStates.get(p.data.uid) ?? '') : ''),
    cellClass: p => (p.value ? `jp-raydata-mod-${p.value}` : '')
  };
}

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
 *
 * Several tables may show one model (the sidebar's compact one and the main area's wide one): each
 * follows the model's sort and selection, and tells the model what its user changes.
 */
export function RunTable(props: {
  model: RunBrowserModel;
  /** The sidebar's narrow layout; the main area shows the full columns. */
  compact?: boolean;
  /** Shown as a button when given: open the wide table in the main area. */
  onOpenMainArea?: () => void;
}): JSX.Element {
  const { model, compact = false } = props;
  const api = useRef<GridApi<IRunRow> | null>(null);

  const columnDefs = useMemo(
    () =>
      compact
        ? [
            ...BASE_COLUMNS.map(compactColumn),
            jobColumn(model),
            ...model.columns.map(startDocColumn)
          ]
        : [
            ...BASE_COLUMNS,
            jobColumn(model),
            ...model.columns.map(startDocColumn)
          ].map(wideColumn),
    [model.columns, compact]
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
          .then(page => {
            params.successCallback(page.runs, page.total);
            if (api.current) {
              showSelection(api.current, model.selected);
            }
          })
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
    // The opened run's row is marked (rowClassRules): redraw the rows it moves between.
    let marked: string | null = null;
    const mark = (grid: GridApi<IRunRow>) => {
      const opened = model.detail.status !== 'none' ? model.detail.uid : null;
      if (opened === marked) {
        return;
      }
      const rowNodes = [marked, opened].flatMap(uid => {
        const node = uid === null ? undefined : grid.getRowNode(uid);
        return node ? [node] : [];
      });
      marked = opened;
      grid.redrawRows({ rowNodes });
    };
    // Another table changed the selection or the sort: follow it.
    const follow = () => {
      const grid = api.current;
      if (!grid) {
        return;
      }
      mark(grid);
      showSelection(grid, model.selected);
      const current = grid
        .getColumnState()
        .filter(c => c.sort)
        .sort((a, b) => (a.sortIndex ?? 0) - (b.sortIndex ?? 0))
        .map(c => ({ key: c.colId, descending: c.sort === 'desc' }));
      if (JSON.stringify(current) !== JSON.stringify(model.sort)) {
        const shown = model.sort.length === 1 && model.sort[0].key === 'time';
        grid.applyColumnState({
          state: shown && current.length === 0 ? [] : sortState(model.sort),
          defaultState: { sort: null }
        });
      }
    };
    const jobs = () => api.current?.refreshCells({ columns: ['job'] });
    model.searchChanged.connect(restart);
    model.rowsStale.connect(refresh);
    model.changed.connect(follow);
    model.jobStatesChanged.connect(jobs);
    return () => {
      model.searchChanged.disconnect(restart);
      model.rowsStale.disconnect(refresh);
      model.changed.disconnect(follow);
      model.jobStatesChanged.disconnect(jobs);
    };
  }, [model]);

  const selectVisible = () => {
    const grid = api.current;
    if (!grid) {
      return;
    }
    const visible: string[] = [];
    const last = grid.getLastDisplayedRowIndex();
    for (let i = grid.getFirstDisplayedRowIndex(); i <= last; i++) {
      const uid = grid.getDisplayedRowAtIndex(i)?.data?.uid;
      if (uid) {
        visible.push(uid);
      }
    }
    model.setSelection([...model.selected, ...visible]);
  };

  const total = model.total;
  const selected = model.selected.size;
  const progress = model.progress;
  const count =
    total === null
      ? model.problem
        ? 'No runs to show'
        : 'Loading runs…'
      : `${total.toLocaleString()} run${total === 1 ? '' : 's'}`;
  return (
    <div
      className={`jp-raydata-RunTable${compact ? ' jp-raydata-mod-compact' : ''}`}
    >
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
          selectionColumnDef={compact ? COMPACT_SELECTION : undefined}
          onGridReady={(e: GridReadyEvent<IRunRow>) => {
            api.current = e.api;
            if (model.sort.some(k => k.key !== 'time' || !k.descending)) {
              e.api.applyColumnState({ state: sortState(model.sort) });
            }
          }}
          onRowSelected={(e: RowSelectedEvent<IRunRow>) => {
            if (e.source !== 'api' && e.data) {
              model.select(e.data.uid, e.node.isSelected() === true);
            }
          }}
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
          {count}
          {selected > 0 && ` · ${selected} selected`}
        </span>
        <span className="jp-raydata-RunTable-buttons">
          <button
            className="jp-mod-styled"
            title="Tick the runs shown in the table"
            onClick={selectVisible}
          >
            Select shown
          </button>
          <button
            className="jp-mod-styled"
            disabled={selected === 0}
            onClick={() => model.setSelection([])}
          >
            Clear
          </button>
          {props.onOpenMainArea && (
            <button
              className="jp-mod-styled"
              title="The same table, wide, in the main area"
              onClick={props.onOpenMainArea}
            >
              Open wide
            </button>
          )}
        </span>
      </div>
      {progress !== null && (
        <div className="jp-raydata-RunTable-note" data-testid="run-progress">
          {`Partial: still indexing the catalog, ${progress.indexed.toLocaleString()}` +
            (progress.total === null
              ? ' runs so far'
              : ` of ${progress.total.toLocaleString()} runs`)}
        </div>
      )}
      {model.stale && (
        <div className="jp-raydata-RunTable-note">
          Catalog unreachable: showing the last known runs
        </div>
      )}
    </div>
  );
}
