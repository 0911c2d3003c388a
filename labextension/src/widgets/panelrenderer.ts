/** Renders mlops-jupyter panel outputs: the live widget while its kernel holds it, else the
 * static HTML form saved in the same output (never "Error displaying widget"). */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ISessionContext } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { PanelLayout, Widget } from '@lumino/widgets';

export const PANEL_MIME = 'application/vnd.mlops-jupyter.panel+json';
export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const WAIT_MS = 10_000;

/** Whether the notebook's kernel still holds the widget: its model id is an open comm there
 * (the widget model lives in the kernel; a restarted or absent kernel never holds it). */
async function kernelHolds(session: ISessionContext, modelId: string): Promise<boolean> {
  const ready = await Promise.race([
    session.ready.then(() => true),
    new Promise<boolean>(resolve => window.setTimeout(() => resolve(false), WAIT_MS))
  ]);
  const kernel = ready ? session.session?.kernel : null;
  if (!kernel) {
    return false;
  }
  try {
    const reply = await kernel.requestCommInfo({ target_name: 'jupyter.widget' });
    const content = reply.content as { status: string; comms?: Record<string, unknown> };
    return content.status === 'ok' && !!content.comms && modelId in content.comms;
  } catch {
    return false;
  }
}

export class PanelRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(
    readonly options: IRenderMime.IRendererOptions,
    private readonly rendermime: IRenderMimeRegistry,
    private readonly session: ISessionContext
  ) {
    super();
    this.addClass('mlops-panel-output');
    this.layout = new PanelLayout();
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const marker = model.data[PANEL_MIME] as { model_id?: string } | undefined;
    // The static form first: it shows at once, and stays unless the kernel holds the widget.
    const html = this.rendermime.createRenderer('text/html');
    this.show_(html);
    this.node.dataset.mlopsForm = 'static';
    await html.renderModel(model);
    const canLive = model.trusted && !!model.data[WIDGET_MIME] && !!marker?.model_id;
    if (canLive && (await kernelHolds(this.session, marker!.model_id!))) {
      const live = this.rendermime.createRenderer(WIDGET_MIME);
      this.show_(live);
      this.node.dataset.mlopsForm = 'live';
      await live.renderModel(model);
    }
  }

  private show_(child: IRenderMime.IRenderer): void {
    const layout = this.layout as PanelLayout;
    for (const old of [...layout.widgets]) {
      old.dispose();
    }
    layout.addWidget(child);
  }
}

/** A renderer factory bound to one notebook's rendermime (where the widget renderer lives)
 * and its kernel session. */
export function panelRendererFactory(
  rendermime: IRenderMimeRegistry,
  session: ISessionContext
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [PANEL_MIME],
    defaultRank: -20,
    createRenderer: options => new PanelRenderer(options, rendermime, session)
  };
}
