/** Shapes of the REST API under /mlops-jupyter/ and the ids shared by the plugins. */

export const SIDEBAR_ID = 'mlops-jupyter:sidebar';

export namespace CommandIDs {
  export const compare = 'mlops-jupyter:compare';
  export const lineage = 'mlops-jupyter:lineage';
  export const refresh = 'mlops-jupyter:refresh';
  export const view = 'mlops-jupyter:view';
}

export type Scalar = string | number | boolean | null;

export interface IStatus {
  store: string;
  exists: boolean;
  schema_version: number | null;
  marker: string;
}

export interface IExperiment {
  id: string;
  name: string;
  n_runs: number;
  last_run_at: string | null;
}

export interface IRun {
  id: string;
  name: string;
  experiment: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  notebook_path: string | null;
  params: Record<string, Scalar>;
  metrics: Record<string, number | null>;
  resources?: IRunResources | null;
}

/** What a run cost (#16): totals over its cells, peaks, the estimated cost when priced. */
export interface IRunResources {
  cells: number;
  wall_s: number | null;
  cpu_s: number | null;
  cpu_workers_s: number | null;
  peak_rss_mb: number | null;
  max_workers: number | null;
  cost: number | null;
}

export interface IExecutionSummary {
  id: number;
  run_id: string;
  cell_id: string | null;
  execution_count: number | null;
  status: string;
  n_params: number;
  n_metrics: number;
  n_models: number;
  n_datasets_written: number;
  n_datasets_read: number;
  n_checks?: number;
  n_checks_failed?: number;
  wall_s?: number | null;
  cpu_s?: number | null;
  peak_rss_mb?: number | null;
  retained_mb?: number | null;
}

export interface IGraphNode {
  id: string;
  type: string;
  ref: string;
  column: number;
  label: string;
  title?: string;
}

export interface IGraphEdge {
  source: string;
  target: string;
  relation: string;
}

export interface IGraph {
  nodes: IGraphNode[];
  edges: IGraphEdge[];
}

export interface IDatasetVersion {
  name: string;
  version: number;
  fingerprint: string;
  n_rows: number | null;
  n_cols: number | null;
  created_at: string;
  tags?: Record<string, string>;
}

export interface IDataset {
  name: string;
  versions: IDatasetVersion[];
}

export interface IModelVersion {
  name: string;
  version: number;
  class_name: string;
  model_fingerprint: string;
  run_id: string | null;
  metrics: Record<string, number | null>;
  created_at: string;
  created_by: string | null;
}

export interface IAuditRecord {
  id: number;
  at: string;
  action: string;
  who: string;
  from_version: number | null;
  to_version: number | null;
  alias: string | null;
  reason: string | null;
  forced: number;
}

export interface IRegisteredModel {
  name: string;
  n_versions: number;
  latest_version: number | null;
  versions: IModelVersion[];
  aliases: Record<string, number>;
  audit: IAuditRecord[];
}

export interface ICapturedModel {
  fingerprint: string;
  class_name: string;
  name: string | null;
  run_id: string | null;
}

export interface IModels {
  registered: IRegisteredModel[];
  captured: ICapturedModel[];
}

export interface ICompare {
  runs: string[];
  html: string;
}

/** A view the server renders to static HTML (a dataset, a saved drift report). */
export interface IStaticView {
  html: string;
}

/** Arguments of the command that opens a static view in the main area. */
export interface IViewArgs {
  route: string;
  title: string;
  id: string;
}

/** Arguments of the lineage command: a run, or one cell execution. */
export interface ILineageArgs {
  run?: string;
  execution?: number;
  title?: string;
}

export interface IDriftReport {
  id: string;
  created_at: string;
  reference_name: string | null;
  current_name: string | null;
  model_name: string | null;
  n_columns: number;
  n_drifted: number;
  share: number;
  drifted: number;
}
