/** The monitoring view of a registered model (#17): batches over time, opened in the main area. */

import { CommandRegistry } from '@lumino/commands';

import { CommandIDs } from '../tokens';
import { h } from './dom';

/** A link in a model's detail that opens `/mlops-jupyter/monitor/NAME`, the static panel the
 * server renders (drift share, metrics and estimate, data tests, retrains and promotions). */
export function monitoringLink(commands: CommandRegistry, name: string): HTMLElement {
  return h(
    'button',
    {
      className: 'mlops-link mlops-monitoring-link',
      title: `Batches ${name} was monitored on: drift, metrics, data tests, retrains`,
      onclick: () =>
        void commands.execute(CommandIDs.view, {
          route: `monitor/${encodeURIComponent(name)}`,
          title: `Monitoring: ${name}`,
          id: `mlops-monitor-${name}`
        })
    },
    'monitoring'
  );
}
