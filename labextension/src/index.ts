/** Plugins of the mlops-jupyter JupyterLab extension (definitions only; widgets live apart). */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { CommandIDs, ILineageArgs, IViewArgs, SIDEBAR_ID } from './tokens';
import { CellBadges } from './widgets/cellbadges';
import { ComparePanel } from './widgets/compare';
import { LineageView } from './widgets/lineage';
import { panelRendererFactory } from './widgets/panelrenderer';
import { MlopsSidebar } from './widgets/sidebar';
import { StaticView } from './widgets/staticview';

const mlopsIcon = new LabIcon({
  name: 'mlops-jupyter:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<circle cx="5" cy="6" r="3"/><circle cx="5" cy="18" r="3"/><circle cx="19" cy="12" r="3"/>' +
    '<path d="M7.5 7.2l9 3.6-.7 1.8-9-3.6zM7.5 16.8l9-3.6-.7-1.8-9 3.6z"/></g></svg>'
});

/** The left "MLOps" panel and the commands that open comparisons and lineage views. */
const sidebar: JupyterFrontEndPlugin<void> = {
  id: 'mlops-jupyter:sidebar',
  description: 'MLOps sidebar: experiments, runs, models and datasets of the lineage store.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const panel = new MlopsSidebar(app.commands);
    panel.id = SIDEBAR_ID;
    panel.title.icon = mlopsIcon;
    panel.title.caption = 'MLOps';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, SIDEBAR_ID);

    app.commands.addCommand(CommandIDs.compare, {
      label: 'MLOps: Compare Runs',
      execute: args => {
        const runs = (args.runs as string[]) ?? [];
        const widget = new MainAreaWidget({ content: new ComparePanel(runs) });
        widget.id = `mlops-compare-${runs.join('-')}`;
        widget.title.label = `Compare ${runs.length} runs`;
        widget.title.icon = mlopsIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });
    app.commands.addCommand(CommandIDs.lineage, {
      label: 'MLOps: Lineage',
      execute: args => {
        const target = args as ILineageArgs;
        const widget = new MainAreaWidget({ content: new LineageView(target) });
        widget.id = `mlops-lineage-${target.run ?? 'cell-' + target.execution}`;
        widget.title.label = target.title ?? 'Lineage';
        widget.title.icon = mlopsIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });
    app.commands.addCommand(CommandIDs.view, {
      label: 'MLOps: Open View',
      execute: args => {
        const { route, title, id } = args as unknown as IViewArgs;
        const existing = document.getElementById(id);
        if (existing) {
          app.shell.activateById(id);
          return;
        }
        const widget = new MainAreaWidget({ content: new StaticView(route) });
        widget.id = id;
        widget.title.label = title;
        widget.title.icon = mlopsIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'MLOps: Refresh Sidebar',
      execute: () => panel.refresh()
    });
    palette?.addItem({ command: CommandIDs.refresh, category: 'MLOps' });
  }
};

/** Badges on captured notebook cells. */
const badges: JupyterFrontEndPlugin<void> = {
  id: 'mlops-jupyter:cell-badges',
  description: 'Shows what mlops-jupyter captured from each notebook cell.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const byPanel = new WeakMap<object, CellBadges>();
    tracker.widgetAdded.connect((_, panel) => {
      // Panel outputs: the live widget while the kernel holds it, else their static form.
      const rendermime = panel.content.rendermime;
      rendermime.addFactory(panelRendererFactory(rendermime, panel.sessionContext), -20);
      const b = new CellBadges(panel, app.commands);
      byPanel.set(panel, b);
      void panel.context.ready.then(() => b.showAll());
    });
    NotebookActions.executed.connect((_, { notebook, cell }) => {
      const panel = tracker.find(p => p.content === notebook);
      const b = panel && byPanel.get(panel);
      if (b) {
        void b.update(cell);
      }
    });
  }
};

export default [sidebar, badges];
