// What a click on a layer's CodeLens does: the Layers view shows the Dockerfile's image (read first
// when another image is shown), selects that layer's row without taking focus from the editor, and
// "Explain This Layer" opens beside the editor (focus stays in the editor too).
//
//   layerLens.showLensLayer N uri             layer index N of the image of the Dockerfile at uri
//   layerLens.showLensLayer N uri {stage, source}   layer N of a stage image (a stage the
//                                             Dockerfile's image does not contain); Explain shows
//                                             that image in the Layers view first
import * as vscode from 'vscode';
import { COMMANDS, type Contribution } from './commands';
import type { LayerLensContext } from './context';
import { stageRefArg } from './explain';

/**
 * Makes the Dockerfile's image the shown one. Another show (the status bar following the active
 * editor) may cancel this one: then look again, a few times.
 */
async function ensureShown(ll: LayerLensContext, doc: vscode.TextDocument): Promise<boolean> {
  const img = await ll.dockerfiles.imageFor(doc);
  if (!img) return false;
  for (let attempt = 0; attempt < 3; attempt++) {
    const cur = ll.images.current;
    if (cur && !cur.partial && cur.analysis.image.id === img.image.id) return true;
    try {
      await ll.images.show(img.source, { dockerfile: doc.uri });
    } catch (e) {
      if (!(e instanceof Error && e.name === 'CancelledError')) throw e;
    }
  }
  const cur = ll.images.current;
  return !!cur && !cur.partial && cur.analysis.image.id === img.image.id;
}

export function registerLensClick(ll: LayerLensContext): Contribution<'showLensLayer'> {
  return {
    disposables: [],
    commands: {
      showLensLayer: async (layer?: unknown, uri?: unknown, stageRef?: unknown) => {
        if (typeof layer !== 'number' || !(uri instanceof vscode.Uri)) return;
        const ref = stageRefArg(stageRef);
        if (ref) {
          // A stage image: Explain shows it in the Layers view (mapped with its stage), then the row is selected.
          await vscode.commands.executeCommand(COMMANDS.explainLayer, layer, uri, { stage: ref.stage, source: ref.source, preserveFocus: true });
          const cur = ll.images.current;
          if (cur && !cur.partial && cur.source === ref.source) {
            try {
              await vscode.commands.executeCommand(COMMANDS.revealLayer, { layer, focus: false, expand: false });
            } catch (e) {
              ll.log(`lens click: cannot reveal layer ${layer} of ${ref.source}: ${(e as Error).message}`);
            }
          }
          return;
        }
        let shown = false;
        try {
          shown = await ensureShown(ll, await vscode.workspace.openTextDocument(uri));
        } catch (e) {
          ll.log(`lens click: cannot show the image of ${vscode.workspace.asRelativePath(uri)}: ${(e as Error).message}`);
        }
        // Without the image in the view there is no row to select; Explain still says what it can.
        if (shown) {
          try {
            await vscode.commands.executeCommand(COMMANDS.revealLayer, { layer, focus: false, expand: false });
          } catch (e) {
            ll.log(`lens click: cannot reveal layer ${layer}: ${(e as Error).message}`);
          }
        }
        await vscode.commands.executeCommand(COMMANDS.explainLayer, layer, uri, { preserveFocus: true });
      },
    },
  };
}
