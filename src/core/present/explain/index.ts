// Copy-on-write explained with the image's own numbers: what one layer costs and why, as data
// (`explainLayer`), and the same facts rendered for a hover (markdown), the "Explain This Layer"
// report (blocks rendered to HTML) and the CLI (plain text). Pure: no I/O, no vscode.
//
// Facts this module states, and why they hold for image layers and OverlayFS:
// - A layer is a tar of whole files. Changing any part of a file from a lower layer (one appended
//   byte, a chmod or chown) stores the entire file again in the new layer; under overlay2 the build
//   container's write first copies the whole file up into its writable layer ("copy-up"), and that
//   layer becomes the new image layer. The lower copy stays in its layer.
// - Deleting in a later layer writes a whiteout: the file disappears from the merged view but the
//   layer below still holds and ships its bytes. Only not writing them (deleting in the same RUN, or
//   not copying them) keeps them out of the image.
// - Instructions that only change the image config (ENV, LABEL, CMD, EXPOSE, USER, ...) add a
//   history entry without a layer: 0 bytes. WORKDIR (and a RUN that writes nothing) can still make a
//   real layer holding no file content.
// - At run time a container's writes to image files go through the storage driver (copy-up into the
//   container's writable layer, lost with the container); a volume bypasses the storage driver.
import type { Analysis } from '../../image/analysis';
import { explainLayer } from './facts';
import type { ExplainOptions } from './model';
import { reportBlocks } from './report';
import { renderText } from './render';

import type { PackageRow } from '../../contents/packages';
export * from './model';
export * from './facts';
export * from './suggestions';
export * from './markup';
export * from './sentences';
export * from './hover';
export * from './report';
export * from './render';

/** The whole report for one layer, as text (the CLI's `explain`). */
export function explainText(a: Analysis, layer: number, opts: ExplainOptions & { dockerfile?: string; width?: number; packages?: readonly PackageRow[] } = {}): string {
  return renderText(reportBlocks(a, explainLayer(a, layer, opts), opts), opts.width ?? 100);
}
