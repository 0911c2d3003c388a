/** A main-area view of HTML the server renders from the store (comparison, dataset, drift). */

import { Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import { IStaticView } from '../tokens';
import { h } from './dom';

export class StaticView extends Widget {
  constructor(
    readonly route: string,
    readonly params: Record<string, string> = {},
    className = 'mlops-static-view',
    private readonly bodyClass = 'mlops-view-body'
  ) {
    super();
    this.addClass('mlops-view');
    this.addClass(className);
    this.node.append(h('p', { className: 'mlops-muted' }, 'Loading…'));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const reply = await requestAPI<IStaticView>(this.route, this.params);
      // Server-rendered by mlops_jupyter.display: escaped, static, no scripts or external URLs.
      const body = h('div', { className: `mlops-view-body ${this.bodyClass}` });
      body.innerHTML = reply.html;
      this.node.replaceChildren(body);
    } catch (error) {
      this.node.replaceChildren(
        h('p', { className: 'mlops-message' }, `Cannot load: ${(error as Error).message}`)
      );
    }
  }
}
