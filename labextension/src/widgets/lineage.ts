/** The lineage graph of a run or a cell: datasets -> cells -> models -> registry versions. */

import { Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import { IGraph, IGraphNode, ILineageArgs } from '../tokens';
import { h } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const COLUMN_TITLES = ['datasets', 'cells', 'models', 'registry'];
const COL_W = 230;
const NODE_W = 190;
const NODE_H = 34;
const ROW_H = 50;
const TOP = 40;

export class LineageView extends Widget {
  constructor(readonly args: ILineageArgs) {
    super();
    this.addClass('mlops-lineage');
    this.node.append(h('p', { className: 'mlops-muted' }, 'Loading lineage…'));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const graph = await requestAPI<IGraph>(
        this.args.execution !== undefined
          ? `executions/${encodeURIComponent(String(this.args.execution))}/lineage`
          : `runs/${encodeURIComponent(this.args.run ?? '')}/lineage`
      );
      this.node.replaceChildren(
        graph.nodes.length
          ? render(graph)
          : h('p', { className: 'mlops-empty' }, 'Nothing captured for this yet.')
      );
    } catch (error) {
      this.node.replaceChildren(
        h('p', { className: 'mlops-message' }, `Cannot load lineage: ${(error as Error).message}`)
      );
    }
  }
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

/** Columns by node type, rows in the server's order; edges as curves between the boxes. */
export function render(graph: IGraph): SVGSVGElement {
  const rows = [0, 0, 0, 0];
  const pos = new Map<string, { x: number; y: number; node: IGraphNode }>();
  for (const node of graph.nodes) {
    const col = Math.min(Math.max(node.column, 0), 3);
    pos.set(node.id, { x: 10 + col * COL_W, y: TOP + rows[col]++ * ROW_H, node });
  }
  const height = TOP + Math.max(1, ...rows) * ROW_H;
  const root = svg('svg', {
    class: 'mlops-lineage-graph',
    width: 10 + 4 * COL_W,
    height,
    viewBox: `0 0 ${10 + 4 * COL_W} ${height}`
  });
  COLUMN_TITLES.forEach((title, i) =>
    root.append(svg('text', { class: 'mlops-lineage-column', x: 10 + i * COL_W, y: 20 }, title))
  );
  for (const edge of graph.edges) {
    const a = pos.get(edge.source);
    const b = pos.get(edge.target);
    if (!a || !b) {
      continue;
    }
    // left-to-right when the target is in a later column, else a loop back
    const [from, to] = a.x <= b.x ? [a, b] : [b, a];
    const x1 = from.x + (from.x === to.x ? NODE_W / 2 : NODE_W);
    const y1 = from.y + NODE_H / (from.x === to.x ? 1 : 2);
    const x2 = to.x + (from.x === to.x ? NODE_W / 2 : 0);
    const y2 = to.y + (from.x === to.x ? 0 : NODE_H / 2);
    const mid = (x1 + x2) / 2;
    const path = svg('path', {
      class: `mlops-lineage-edge mlops-edge-${edge.relation}`,
      d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`
    });
    path.append(svg('title', {}, edge.relation));
    root.append(path);
  }
  for (const { x, y, node } of pos.values()) {
    const g = svg('g', {
      class: `mlops-lineage-node mlops-node-${node.type}`,
      'data-node': node.id,
      transform: `translate(${x},${y})`
    });
    g.append(
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }),
      svg('text', { x: 8, y: 21 }, node.label.length > 28 ? node.label.slice(0, 27) + '…' : node.label),
      svg('title', {}, `${node.type} ${node.ref}\n${node.label}`)
    );
    root.append(g);
  }
  return root;
}
