/** The comparison of selected runs, in the main area: the static panel `%mlops compare` shows. */

import { StaticView } from './staticview';

export class ComparePanel extends StaticView {
  constructor(readonly runIds: string[]) {
    super('compare', { runs: runIds.join(',') }, 'mlops-compare', 'mlops-compare-body');
  }
}
