/** The lineage graph of a run or a cell, laid out left to right by dagre:
 * data -> cells -> models -> metrics and registry versions, arrows labelled with the relation. */

import dagre from '@dagrejs/dagre';
import { Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import { IGraph, IGraphNode, ILineageArgs } from '../tokens';
import { h } from './dom';

const SVG = 'http://www.w3.org/2000/svg';
const NODE_H = 40;
const MAX_CHARS = 30;
const CHAR_W = 6.8; // 12px UI font, average glyph
const PAD = 16;

const KINDS: Record<string, string> = {
  file: 'file',
  dataset: 'dataset',
  execution: 'cell',
  model: 'model',
  metric: 'metric',
  model_version: 'registry',
  drift_report: 'drift report'
};

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
        ...(graph.nodes.length
          ? [legend(graph), render(graph)]
          : [h('p', { className: 'mlops-empty' }, 'Nothing captured for this yet.')])
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

/** A label that fits its box: the start of the name, then "…" (the full name is on hover). */
export function shorten(label: string, max = MAX_CHARS): string {
  return label.length > max ? label.slice(0, max - 1) + '…' : label;
}

function nodeWidth(node: IGraphNode): number {
  const chars = Math.max(shorten(node.label).length, (KINDS[node.type] ?? node.type).length);
  return Math.round(Math.min(MAX_CHARS, chars) * CHAR_W + 2 * 10);
}

function legend(graph: IGraph): HTMLElement {
  const types = [...new Set(graph.nodes.map(n => n.type))];
  return h(
    'div',
    { className: 'mlops-lineage-legend' },
    ...types.map(t =>
      h('span', { className: `mlops-legend-item mlops-node-${t}` }, KINDS[t] ?? t)
    ),
    h(
      'span',
      { className: 'mlops-muted' },
      ` ${graph.nodes.length} nodes, ${graph.edges.length} edges; hover a box for its full name`
    )
  );
}

/** A smooth path through dagre's bend points. */
function pathThrough(points: { x: number; y: number }[]): string {
  if (points.length < 3) {
    return points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
  }
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const mid = {
      x: (points[i].x + points[i + 1].x) / 2,
      y: (points[i].y + points[i + 1].y) / 2
    };
    d += ` Q${points[i].x},${points[i].y} ${i === points.length - 2 ? points[i + 1].x : mid.x},${
      i === points.length - 2 ? points[i + 1].y : mid.y
    }`;
  }
  return d;
}

/** Lay the graph out left to right (dagre) and draw it: boxes, arrows, relation labels. */
export function render(graph: IGraph): SVGSVGElement {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 70, edgesep: 8, marginx: PAD, marginy: PAD });
  g.setDefaultEdgeLabel(() => ({}));
  const byId = new Map<string, IGraphNode>();
  for (const node of graph.nodes) {
    byId.set(node.id, node);
    g.setNode(node.id, { width: nodeWidth(node), height: NODE_H });
  }
  const edges = graph.edges.filter(e => byId.has(e.source) && byId.has(e.target));
  edges.forEach((e, i) =>
    g.setEdge(e.source, e.target, { width: e.relation.length * 6 + 6, height: 12, labelpos: 'c' }, `e${i}`)
  );
  dagre.layout(g);
  const info = g.graph() as { width?: number; height?: number };
  const width = Math.ceil(info.width ?? 200);
  const height = Math.ceil(info.height ?? 100);
  const root = svg('svg', {
    class: 'mlops-lineage-graph',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`
  });
  const defs = svg('defs', {});
  const marker = svg('marker', {
    id: 'mlops-arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse'
  });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'mlops-arrowhead' }));
  defs.append(marker);
  root.append(defs);
  edges.forEach((e, i) => {
    const laid = g.edge({ v: e.source, w: e.target, name: `e${i}` }) as {
      points: { x: number; y: number }[];
      x?: number;
      y?: number;
    };
    const group = svg('g', { class: 'mlops-lineage-link' });
    const path = svg('path', {
      class: `mlops-lineage-edge mlops-edge-${e.relation}`,
      d: pathThrough(laid.points),
      'marker-end': 'url(#mlops-arrow)',
      'data-source': e.source,
      'data-target': e.target
    });
    path.append(svg('title', {}, `${byId.get(e.source)?.label} -${e.relation}-> ${byId.get(e.target)?.label}`));
    group.append(path);
    if (laid.x !== undefined && laid.y !== undefined) {
      group.append(
        svg('text', { class: 'mlops-lineage-label', x: laid.x, y: laid.y + 3, 'text-anchor': 'middle' }, e.relation)
      );
    }
    root.append(group);
  });
  for (const id of g.nodes()) {
    const node = byId.get(id);
    const laid = g.node(id) as { x: number; y: number; width: number; height: number };
    if (!node || !laid) {
      continue;
    }
    const x = laid.x - laid.width / 2;
    const y = laid.y - laid.height / 2;
    const box = svg('g', {
      class: `mlops-lineage-node mlops-node-${node.type}`,
      'data-node': node.id,
      transform: `translate(${x},${y})`
    });
    box.append(
      svg('rect', { width: laid.width, height: laid.height, rx: 6 }),
      svg('text', { class: 'mlops-node-kind', x: 10, y: 14 }, KINDS[node.type] ?? node.type),
      svg('text', { class: 'mlops-node-label', x: 10, y: 31 }, shorten(node.label)),
      svg('title', {}, node.title ?? `${node.type} ${node.ref}\n${node.label}`)
    );
    root.append(box);
  }
  return root;
}
