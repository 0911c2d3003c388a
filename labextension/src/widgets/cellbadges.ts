/** A badge on each captured notebook cell: "2 params · 1 metric · model"; click -> its lineage. */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';

import { requestAPI } from '../request';
import { CommandIDs, IExecutionSummary } from '../tokens';
import { h, plural } from './dom';

const RETRY_MS = [300, 1500];
const CHECK_RETRY_MS = [2500, 6000]; // data tests run after the cell (#16)

/** What an execution captured, in words; empty when it captured nothing. */
export function describe(e: IExecutionSummary): string {
  const parts: string[] = [];
  if (e.n_params) {
    parts.push(plural(e.n_params, 'param'));
  }
  if (e.n_metrics) {
    parts.push(plural(e.n_metrics, 'metric'));
  }
  if (e.n_models) {
    parts.push(e.n_models === 1 ? 'model' : `${e.n_models} models`);
  }
  if (e.n_datasets_written) {
    parts.push(e.n_datasets_written === 1 ? 'dataset' : `${e.n_datasets_written} datasets`);
  }
  if (e.n_checks_failed) {
    parts.push(`✗ ${plural(e.n_checks_failed, 'data test')} failed`);
  } else if (e.n_checks) {
    parts.push('✓ data tests');
  }
  return parts.join(' · ');
}

/** The cell's cost in words, for the badge's tooltip (#16). */
export function usage(e: IExecutionSummary): string {
  if (e.wall_s === null || e.wall_s === undefined) {
    return '';
  }
  const mb = (v: number | null | undefined): string =>
    v === null || v === undefined ? '-' : v >= 1024 ? `${(v / 1024).toFixed(2)} GB` : `${v.toFixed(0)} MB`;
  return `wall ${e.wall_s.toFixed(2)} s · CPU ${(e.cpu_s ?? 0).toFixed(2)} s · peak ${mb(
    e.peak_rss_mb
  )} · retained ${mb(e.retained_mb)}`;
}

export class CellBadges {
  constructor(
    private readonly panel: NotebookPanel,
    private readonly commands: CommandRegistry
  ) {}

  /** Badges for every cell of the notebook that has a captured execution. */
  async showAll(): Promise<void> {
    const cells = this.panel.content.widgets;
    const ids = cells.map(c => c.model.id);
    if (!ids.length) {
      return;
    }
    try {
      const found = await requestAPI<IExecutionSummary[]>('executions', { cell_id: ids });
      const byId = new Map(found.map(e => [e.cell_id, e]));
      for (const cell of cells) {
        const e = byId.get(cell.model.id);
        if (e) {
          this.place(cell, e);
        }
      }
    } catch {
      // no store yet, or the server extension is off: no badges
    }
  }

  /** After a cell ran: fetch what it captured (the kernel commits before it replies). */
  async update(cell: Cell): Promise<void> {
    for (const delay of RETRY_MS) {
      await new Promise(resolve => setTimeout(resolve, delay));
      try {
        const [e] = await requestAPI<IExecutionSummary[]>('executions', {
          cell_id: cell.model.id
        });
        if (e && e.execution_count === (cell.model as any).executionCount) {
          this.place(cell, e);
          if (e.n_datasets_written || e.n_datasets_read) {
            void this.later(cell, e); // its data tests land after the cell
          }
          return;
        }
      } catch {
        return;
      }
    }
    this.remove(cell); // not captured this time (capture off, `# mlops: skip`): no stale badge
  }

  private async later(cell: Cell, first: IExecutionSummary): Promise<void> {
    for (const delay of CHECK_RETRY_MS) {
      await new Promise(resolve => setTimeout(resolve, delay));
      try {
        const [e] = await requestAPI<IExecutionSummary[]>('executions', {
          cell_id: cell.model.id
        });
        if (!e || e.id !== first.id) {
          return; // run again meanwhile: that run updates its own badge
        }
        if (e.n_checks) {
          this.place(cell, e);
          return;
        }
      } catch {
        return;
      }
    }
  }

  private remove(cell: Cell): void {
    cell.node.querySelector(':scope > .mlops-cell-badge')?.remove();
  }

  private place(cell: Cell, e: IExecutionSummary): void {
    this.remove(cell);
    const text = describe(e);
    if (!text) {
      return;
    }
    const cost = usage(e);
    const badge = h(
      'button',
      {
        className: 'mlops-cell-badge' + (e.n_checks_failed ? ' mlops-cell-badge-failed' : ''),
        title:
          `Captured by mlops-jupyter (run ${e.run_id}). Click for this cell's lineage.` +
          (cost ? `\n${cost}` : '') +
          (e.n_checks_failed ? `\nData tests failed: %mlops check NAME shows which rules.` : ''),
        'data-execution-id': e.id,
        onclick: () =>
          void this.commands.execute(CommandIDs.lineage, {
            execution: e.id,
            title: `Lineage: cell [${e.execution_count ?? ''}]`
          })
      },
      text
    );
    cell.node.appendChild(badge);
  }
}
