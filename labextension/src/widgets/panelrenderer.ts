/** Renders mlops-jupyter panel outputs: the live widget while its kernel holds it, else the
 * static HTML form saved in the same output (never "Error displaying widget"). */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { PanelLayout, Widget } from '@lumino/widgets';

export const PANEL_MIME = 'application/vnd.mlops-jupyter.panel+json';
export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const WAIT_MS = 10_000;

interface IWidgetManagerLike {
  has_model(id: string): boolean;
  restoredStatus?: boolean;
  restored?: { connect(fn: () => void): void; disconnect(fn: () => void): void };
}

/** The widget manager behind a widget renderer (a private field of @jupyter-widgets). */
async function managerOf(renderer: unknown): Promise<IWidgetManagerLike | null> {
  const delegate = (renderer as { _manager?: { promise?: Promise<IWidgetManagerLike> } })._manager;
  if (!delegate?.promise) {
    return null;
  }
  return Promise.race([
    delegate.promise,
    new Promise<null>(resolve => window.setTimeout(() => resolve(null), WAIT_MS))
  ]);
}

/** Whether the kernel still holds the widget model: wait for the manager's restore if needed. */
async function isAlive(manager: IWidgetManagerLike, modelId: string): Promise<boolean> {
  if (manager.has_model(modelId) || manager.restoredStatus !== false || !manager.restored) {
    return manager.has_model(modelId);
  }
  await new Promise<void>(resolve => {
    const done = (): void => {
      manager.restored?.disconnect(done);
      resolve();
    };
    manager.restored?.connect(done);
    window.setTimeout(done, WAIT_MS);
  });
  return manager.has_model(modelId);
}

export class PanelRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    readonly options: IRenderMime.IRendererOptions,
    private readonly rendermime: IRenderMimeRegistry
  ) {
    super();
    this.addClass('mlops-panel-output');
    this.layout = new PanelLayout();
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const marker = model.data[PANEL_MIME] as { model_id?: string } | undefined;
    const canLive = model.trusted && !!model.data[WIDGET_MIME] && !!marker?.model_id;
    const live = canLive ? this.rendermime.createRenderer(WIDGET_MIME) : null;
    if (live) {
      const manager = await managerOf(live);
      if (manager === null || (await isAlive(manager, marker!.model_id!))) {
        this.show_(live);
        this.node.dataset.mlopsForm = 'live';
        return live.renderModel(model);
      }
      live.dispose();
    }
    const html = this.rendermime.createRenderer('text/html');
    this.show_(html);
    this.node.dataset.mlopsForm = 'static';
    return html.renderModel(model);
  }

  private show_(child: IRenderMime.IRenderer): void {
    const layout = this.layout as PanelLayout;
    for (const old of [...layout.widgets]) {
      old.dispose();
    }
    layout.addWidget(child);
  }
}

/** A renderer factory bound to one notebook's rendermime (where the widget renderer lives). */
export function panelRendererFactory(
  rendermime: IRenderMimeRegistry
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [PANEL_MIME],
    defaultRank: -20,
    createRenderer: options => new PanelRenderer(options, rendermime)
  };
}
