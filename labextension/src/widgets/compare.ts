/** The comparison of selected runs, in the main area: the static panel `%mlops compare` shows. */

import { Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import { ICompare } from '../tokens';
import { h } from './dom';

export class ComparePanel extends Widget {
  constructor(readonly runIds: string[]) {
    super();
    this.addClass('mlops-compare');
    this.node.append(h('p', { className: 'mlops-muted' }, 'Comparing…'));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const reply = await requestAPI<ICompare>('compare', { runs: this.runIds.join(',') });
      // Server-rendered by mlops_jupyter.display: escaped, static, no scripts or external URLs.
      const body = h('div', { className: 'mlops-compare-body' });
      body.innerHTML = reply.html;
      this.node.replaceChildren(body);
    } catch (error) {
      this.node.replaceChildren(
        h('p', { className: 'mlops-message' }, `Cannot compare: ${(error as Error).message}`)
      );
    }
  }
}
