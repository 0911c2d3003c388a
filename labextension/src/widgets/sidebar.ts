/** The left "MLOps" panel: experiments -> runs, models with aliases, datasets with versions. */

import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import {
  CommandIDs,
  IDataset,
  IDriftReport,
  IExperiment,
  IModels,
  IRegisteredModel,
  IRun,
  IRunResources,
  IStatus
} from '../tokens';
import { fmt, h, plural, rich, shortPath, when } from './dom';
import { monitoringLink } from './monitoring';

const POLL_MS = 3000;
const MAX_METRIC_COLUMNS = 3;
const STATUS_MARK: Record<string, string> = { finished: '✓', running: '●', failed: '✗' };
const MAX_DRIFT_REPORTS = 8;

type SortKey = { kind: 'run' | 'metric'; key: string };

export class MlopsSidebar extends Widget {
  constructor(private readonly commands: CommandRegistry) {
    super();
    this.addClass('mlops-sidebar');
    this.title.caption = 'MLOps: runs, models and datasets of the lineage store';
    this.node.append(this.header, this.message, this.body);
  }

  /** Reload everything from the server (keeps the chosen experiment and selection). */
  async refresh(): Promise<void> {
    try {
      const status = await requestAPI<IStatus>('status');
      this.marker = status.marker;
      this.storeLabel.textContent = shortPath(status.store);
      this.storeLabel.title = `Lineage store: ${status.store}`;
      if (!status.exists) {
        this.showMessage(
          'No lineage store yet. Run `%load_ext mlops_jupyter` in a notebook and execute a cell.'
        );
        this.body.replaceChildren();
        return;
      }
      const experiments = await requestAPI<IExperiment[]>('experiments');
      this.lastExperiments = experiments;
      if (!experiments.some(e => e.name === this.experiment)) {
        const latest = [...experiments].sort((a, b) =>
          (b.last_run_at ?? '').localeCompare(a.last_run_at ?? '')
        )[0];
        this.experiment = latest?.name ?? '';
      }
      const [runs, models, datasets, drift] = await Promise.all([
        this.experiment
          ? requestAPI<IRun[]>('runs', { experiment: this.experiment })
          : Promise.resolve([] as IRun[]),
        requestAPI<IModels>('models'),
        requestAPI<IDataset[]>('datasets'),
        requestAPI<IDriftReport[]>('drift')
      ]);
      this.runs = runs;
      const ids = new Set(runs.map(r => r.id));
      this.selected = new Set([...this.selected].filter(id => ids.has(id)));
      this.showMessage('');
      this.body.replaceChildren(
        this.renderRuns(experiments),
        this.renderModels(models),
        this.renderDatasets(datasets),
        this.renderDrift(drift)
      );
    } catch (error) {
      this.showMessage(`Cannot read the lineage store: ${(error as Error).message}`);
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.refresh();
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearInterval(this.timer);
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.poll();
  }

  /** Refresh when any process wrote to the store since the last look. */
  private async poll(): Promise<void> {
    if (!this.isVisible || this.polling) {
      return;
    }
    this.polling = true;
    try {
      const status = await requestAPI<IStatus>('status');
      if (status.marker !== this.marker) {
        await this.refresh();
      }
    } catch {
      // the server may be restarting; the next poll retries
    } finally {
      this.polling = false;
    }
  }

  private showMessage(text: string): void {
    this.message.replaceChildren(...rich(text));
    this.message.hidden = !text;
  }

  // -- runs --------------------------------------------------------------------------------

  private renderRuns(experiments: IExperiment[]): HTMLElement {
    const select = h(
      'select',
      {
        className: 'mlops-experiment-select',
        'aria-label': 'Experiment',
        onchange: () => {
          this.experiment = select.value;
          this.selected.clear();
          void this.refresh();
        }
      },
      ...experiments.map(e => {
        const option = h('option', { value: e.name }, `${e.name} (${e.n_runs})`);
        option.selected = e.name === this.experiment;
        return option;
      })
    );
    const n = this.selected.size;
    const compare = h(
      'button',
      {
        className: 'jp-mod-styled jp-mod-accept mlops-compare-button',
        disabled: n < 2,
        title: 'Open the comparison of the selected runs',
        onclick: () =>
          void this.commands.execute(CommandIDs.compare, { runs: this.selectedInOrder() })
      },
      n >= 2 ? `Compare (${n})` : 'Compare'
    );
    const lineage = h(
      'button',
      {
        className: 'jp-mod-styled mlops-lineage-button',
        disabled: n !== 1,
        title: 'Show the lineage graph of the selected run',
        onclick: () => {
          const run = this.runs.find(r => this.selected.has(r.id));
          if (run) {
            void this.commands.execute(CommandIDs.lineage, {
              run: run.id,
              title: `Lineage: ${run.name}`
            });
          }
        }
      },
      'Lineage'
    );
    return h(
      'section',
      { className: 'mlops-section mlops-runs-section' },
      h('h3', { className: 'mlops-section-title' }, 'Runs'),
      experiments.length ? select : h('p', { className: 'mlops-empty' }, 'No experiments yet.'),
      h('div', { className: 'mlops-actions' }, compare, lineage),
      this.renderSelectedResources(),
      this.runs.length
        ? h('div', { className: 'mlops-scroll mlops-runs-scroll' }, this.renderRunsTable())
        : null
    );
  }

  /** The one selected run's resources (#16): wall, CPU, peak memory, cost. */
  private renderSelectedResources(): HTMLElement | null {
    if (this.selected.size !== 1) {
      return null;
    }
    const run = this.runs.find(r => this.selected.has(r.id));
    const text = describeResources(run?.resources);
    return text
      ? h('div', { className: 'mlops-run-resources', title: 'What this run cost' }, text)
      : null;
  }

  private metricKeys(): string[] {
    const keys = new Set<string>();
    for (const run of this.runs) {
      Object.keys(run.metrics).forEach(k => keys.add(k));
    }
    return [...keys].sort().slice(0, MAX_METRIC_COLUMNS);
  }

  private sortedRuns(): IRun[] {
    const { kind, key } = this.sort;
    const value = (r: IRun): unknown => (kind === 'metric' ? r.metrics[key] : (r as any)[key]);
    const sign = this.sortAscending ? 1 : -1;
    return [...this.runs].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (va === vb) {
        return 0;
      }
      if (va === null || va === undefined) {
        return 1; // missing values last, whatever the direction
      }
      if (vb === null || vb === undefined) {
        return -1;
      }
      return (typeof va === 'number' && typeof vb === 'number'
        ? va - vb
        : String(va).localeCompare(String(vb))) * sign;
    });
  }

  private renderRunsTable(): HTMLElement {
    const metrics = this.metricKeys();
    const header = (label: string, sort: SortKey): HTMLElement => {
      const active = this.sort.kind === sort.kind && this.sort.key === sort.key;
      const arrow = active ? (this.sortAscending ? ' ▲' : ' ▼') : '';
      return h(
        'th',
        {
          className: 'mlops-sortable' + (active ? ' mlops-sorted' : ''),
          title: `Sort by ${label}`,
          scope: 'col',
          'data-sort': `${sort.kind}:${sort.key}`,
          onclick: () => {
            this.sortAscending = active ? !this.sortAscending : sort.kind === 'run';
            this.sort = sort;
            this.rerenderTable();
          }
        },
        label + arrow
      );
    };
    const rows = this.sortedRuns().map(run => {
      const box = h('input', {
        type: 'checkbox',
        'aria-label': `Select ${run.name}`,
        onchange: () => {
          if (box.checked) {
            this.selected.add(run.id);
          } else {
            this.selected.delete(run.id);
          }
          this.order = [...this.order.filter(id => id !== run.id), run.id];
          this.rerenderRuns();
        }
      });
      box.checked = this.selected.has(run.id);
      const params = Object.entries(run.params)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join(', ');
      const cost = describeResources(run.resources);
      return h(
        'tr',
        {
          className: 'mlops-run' + (this.selected.has(run.id) ? ' mlops-selected' : ''),
          'data-run-id': run.id,
          title: [run.id, params, cost].filter(Boolean).join('\n')
        },
        h('td', {}, box),
        h('td', { className: 'mlops-run-name', title: run.name }, run.name),
        h(
          'td',
          { className: `mlops-status mlops-status-${run.status}`, title: run.status },
          STATUS_MARK[run.status] ?? run.status
        ),
        ...metrics.map(k => h('td', { className: 'mlops-num' }, fmt(run.metrics[k])))
      );
    });
    return h(
      'table',
      { className: 'mlops-table mlops-runs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, ''),
          header('run', { kind: 'run', key: 'name' }),
          header('', { kind: 'run', key: 'status' }),
          ...metrics.map(k => header(k, { kind: 'metric', key: k }))
        )
      ),
      h('tbody', {}, ...rows)
    );
  }

  private selectedInOrder(): string[] {
    return this.order.filter(id => this.selected.has(id));
  }

  private rerenderTable(): void {
    this.node.querySelector('.mlops-runs')?.replaceWith(this.renderRunsTable());
  }

  private rerenderRuns(): void {
    const section = this.node.querySelector('.mlops-runs-section');
    if (section && this.lastExperiments) {
      section.replaceWith(this.renderRuns(this.lastExperiments));
    }
  }

  // -- models ------------------------------------------------------------------------------

  private renderModels(models: IModels): HTMLElement {
    const items = models.registered.map(m => this.renderModel(m));
    const captured = models.captured.length;
    return h(
      'section',
      { className: 'mlops-section mlops-models-section' },
      h('h3', { className: 'mlops-section-title' }, 'Models'),
      items.length
        ? h('ul', { className: 'mlops-list mlops-models' }, ...items)
        : h(
            'p',
            { className: 'mlops-empty' },
            ...rich(
              `No registered models. ${plural(captured, 'captured model')}; register one with ` +
                '`%mlops register MODEL_VAR --name NAME`.'
            )
          )
    );
  }

  private renderModel(model: IRegisteredModel): HTMLElement {
    const open = this.openModel === model.name;
    const badges = Object.entries(model.aliases).map(([alias, version]) =>
      h('span', { className: 'mlops-alias', title: `${alias} -> v${version}` }, `${alias}: v${version}`)
    );
    const head = h(
      'div',
      {
        className: 'mlops-model-head',
        role: 'button',
        tabindex: 0,
        onclick: () => {
          this.openModel = open ? '' : model.name;
          this.node.querySelector(`[data-model="${CSS.escape(model.name)}"]`)?.replaceWith(
            this.renderModel(model)
          );
        }
      },
      h('span', { className: 'mlops-model-name' }, model.name),
      h('span', { className: 'mlops-muted' }, ` ${plural(model.n_versions, 'version')} `),
      ...badges
    );
    return h(
      'li',
      { className: 'mlops-model' + (open ? ' mlops-open' : ''), 'data-model': model.name },
      head,
      open ? this.renderModelDetail(model) : null
    );
  }

  private renderModelDetail(model: IRegisteredModel): HTMLElement {
    const holders = new Map<number, string[]>();
    for (const [alias, version] of Object.entries(model.aliases)) {
      holders.set(version, [...(holders.get(version) ?? []), alias]);
    }
    const versions = [...model.versions].reverse().map(v =>
      h(
        'li',
        { className: 'mlops-version', 'data-version': v.version },
        h('b', {}, `v${v.version}`),
        ...(holders.get(v.version) ?? []).map(a => h('span', { className: 'mlops-alias' }, a)),
        h(
          'span',
          { className: 'mlops-muted mlops-version-metrics' },
          Object.entries(v.metrics)
            .slice(0, 3)
            .map(([k, x]) => `${k}=${fmt(x)}`)
            .join(' ')
        ),
        v.run_id
          ? h(
              'button',
              {
                className: 'mlops-link',
                title: 'Lineage of the run that trained this version',
                onclick: () =>
                  void this.commands.execute(CommandIDs.lineage, {
                    run: v.run_id!,
                    title: `Lineage: ${model.name} v${v.version}`
                  })
              },
              'lineage'
            )
          : null
      )
    );
    const audit = [...model.audit].reverse().map(a =>
      h(
        'li',
        { className: 'mlops-audit-record' },
        h('span', { className: 'mlops-muted' }, when(a.at) + ' '),
        h('b', {}, a.action),
        ` ${a.alias ? a.alias + ' ' : ''}` +
          `${a.from_version ? 'v' + a.from_version + ' -> ' : ''}` +
          `${a.to_version ? 'v' + a.to_version : ''} by ${a.who}` +
          `${a.forced ? ' (forced)' : ''}${a.reason ? ': ' + a.reason : ''}`
      )
    );
    return h(
      'div',
      { className: 'mlops-model-detail' },
      monitoringLink(this.commands, model.name),
      h('h4', {}, 'Versions'),
      h('ul', { className: 'mlops-list mlops-versions' }, ...versions),
      h('h4', {}, 'Audit trail'),
      audit.length
        ? h('ol', { className: 'mlops-audit' }, ...audit)
        : h('p', { className: 'mlops-empty' }, 'No audit records.')
    );
  }

  // -- datasets ----------------------------------------------------------------------------

  private renderDatasets(all: IDataset[]): HTMLElement {
    this.lastDatasets = all;
    const filters = parseTagFilter(this.tagFilter);
    const datasets = all
      .map(d => ({ ...d, versions: d.versions.filter(v => tagsMatch(v.tags ?? {}, filters)) }))
      .filter(d => d.versions.length);
    const input = h('input', {
      className: 'jp-mod-styled mlops-tag-filter',
      type: 'search',
      placeholder: 'Filter by tag: pii=true, owner=risk',
      'aria-label': 'Filter datasets by tag',
      value: this.tagFilter,
      onchange: () => {
        this.tagFilter = input.value;
        this.node
          .querySelector('.mlops-datasets-section')
          ?.replaceWith(this.renderDatasets(this.lastDatasets));
      }
    });
    return h(
      'section',
      { className: 'mlops-section mlops-datasets-section' },
      h('h3', { className: 'mlops-section-title' }, 'Datasets'),
      all.length ? input : null,
      datasets.length
        ? h(
            'ul',
            { className: 'mlops-list mlops-datasets' },
            ...datasets.map(d =>
              h(
                'li',
                {
                  className: 'mlops-dataset mlops-clickable',
                  'data-dataset': d.name,
                  role: 'button',
                  tabindex: 0,
                  title: `Open the versions and profile of ${d.name}`,
                  onclick: () =>
                    void this.commands.execute(CommandIDs.view, {
                      route: `datasets/${encodeURIComponent(d.name)}`,
                      title: `Dataset ${d.name}`,
                      id: `mlops-dataset-${d.name}`
                    })
                },
                h('span', { className: 'mlops-dataset-name' }, d.name),
                ' ',
                ...d.versions.map(v =>
                  h(
                    'span',
                    {
                      className:
                        'mlops-chip' +
                        (v.tags?.['quality.tests'] === 'failed' ? ' mlops-tests-failed' : ''),
                      title: [
                        v.fingerprint,
                        when(v.created_at),
                        ...Object.entries(v.tags ?? {}).map(([k, x]) => `${k}=${x}`)
                      ].join('\n')
                    },
                    `v${v.version} ${fmt(v.n_rows)}×${fmt(v.n_cols)}`
                  )
                ),
                ...userTags(d.versions[d.versions.length - 1].tags ?? {})
              )
            )
          )
        : h(
            'p',
            { className: 'mlops-empty' },
            all.length ? 'No dataset has those tags.' : 'No datasets captured yet.'
          )
    );
  }

  // -- drift -------------------------------------------------------------------------------

  private renderDrift(reports: IDriftReport[]): HTMLElement {
    const latest = [...reports].reverse().slice(0, MAX_DRIFT_REPORTS);
    return h(
      'section',
      { className: 'mlops-section mlops-drift-section' },
      h('h3', { className: 'mlops-section-title' }, 'Drift'),
      latest.length
        ? h(
            'ul',
            { className: 'mlops-list mlops-drift' },
            ...latest.map(r =>
              h(
                'li',
                {
                  className: 'mlops-drift-report mlops-clickable',
                  'data-report': r.id,
                  role: 'button',
                  tabindex: 0,
                  title: `Open drift report ${r.id}`,
                  onclick: () =>
                    void this.commands.execute(CommandIDs.view, {
                      route: `drift/${encodeURIComponent(r.id)}`,
                      title: `Drift ${r.current_name ?? r.id}`,
                      id: `mlops-drift-${r.id}`
                    })
                },
                h(
                  'span',
                  { className: r.drifted ? 'mlops-chip mlops-drifted' : 'mlops-chip' },
                  r.drifted ? 'drift' : 'stable'
                ),
                ` ${r.reference_name ?? 'reference'} -> ${r.current_name ?? 'current'}: `,
                `${r.n_drifted}/${r.n_columns} columns`,
                r.model_name ? h('span', { className: 'mlops-muted' }, ` (${r.model_name})`) : null,
                h('div', { className: 'mlops-muted' }, when(r.created_at))
              )
            )
          )
        : h('p', { className: 'mlops-empty' }, ...rich('No drift reports. Run `%mlops drift REF CUR`.'))
    );
  }

  private readonly storeLabel = h('span', { className: 'mlops-store' });
  private readonly header = h(
    'header',
    { className: 'mlops-header' },
    h('h2', { className: 'mlops-title' }, 'MLOps'),
    this.storeLabel,
    h(
      'button',
      {
        className: 'jp-mod-styled mlops-refresh',
        title: 'Reload from the store',
        onclick: () => void this.refresh()
      },
      '⟳'
    )
  );
  private readonly message = h('div', { className: 'mlops-message', hidden: true });
  private readonly body = h('div', { className: 'mlops-body' });
  private experiment = '';
  private runs: IRun[] = [];
  private lastExperiments: IExperiment[] | null = null;
  private selected = new Set<string>();
  private order: string[] = [];
  private sort: SortKey = { kind: 'run', key: 'started_at' };
  private sortAscending = false;
  private openModel = '';
  private tagFilter = '';
  private lastDatasets: IDataset[] = [];
  private marker = '';
  private timer = 0;
  private polling = false;
}

// -- tags and resources (#16) -------------------------------------------------------------------

const AUTOMATIC_TAGS = ['source', 'type', 'quality'];

/** "pii=true, owner" -> [["pii", "true"], ["owner", null]]: every one must hold. */
export function parseTagFilter(text: string): [string, string | null][] {
  return text
    .split(',')
    .map(part => part.trim())
    .filter(Boolean)
    .map(part => {
      const at = part.indexOf('=');
      return at < 0
        ? ([part, null] as [string, null])
        : ([part.slice(0, at).trim(), part.slice(at + 1).trim()] as [string, string]);
    });
}

export function tagsMatch(tags: Record<string, string>, filters: [string, string | null][]): boolean {
  return filters.every(
    ([key, value]) =>
      key in tags && (value === null || tags[key].toLowerCase() === value.toLowerCase())
  );
}

function userTags(tags: Record<string, string>): HTMLElement[] {
  return Object.entries(tags)
    .filter(([k]) => !AUTOMATIC_TAGS.includes(k.split('.')[0]) || k === 'type')
    .map(([k, v]) => h('span', { className: 'mlops-chip mlops-tag', title: 'tag' }, `${k}=${v}`));
}

export function describeResources(r: IRunResources | null | undefined): string {
  if (!r || !r.cells) {
    return '';
  }
  const peak = r.peak_rss_mb ?? 0;
  const mem = peak >= 1024 ? `${(peak / 1024).toFixed(2)} GB` : `${peak.toFixed(0)} MB`;
  const cost = r.cost === null || r.cost === undefined ? '' : ` · cost ${r.cost.toPrecision(3)}`;
  return (
    `${r.cells} cells · wall ${(r.wall_s ?? 0).toFixed(1)} s · CPU ${(r.cpu_s ?? 0).toFixed(1)} s` +
    ` · peak ${mem}${cost}`
  );
}
