// TreeDataProviders for the two views of the "Layers" container. They only adapt the pure tree
// model (src/core/present/treeModel.ts) to TreeItems: codicons and file-theme icons, theme colours (through
// a FileDecorationProvider on the rows' resourceUris), context values for menus, click commands.
// Children come from the model, lazily; tooltips are resolved on hover.
import * as vscode from 'vscode';
import { TreeModel, type FilesMode, type Row, type TreeEl } from '../../core/present/treeModel';
import { COMMANDS } from '../commands';

export const ROW_SCHEME = 'layerlens-row';

/** A resourceUri for a row: named like the path (file-theme icons), with the tone for decorations. */
function rowUri(path: string, tone: Row['tone']): vscode.Uri {
  return vscode.Uri.from({ scheme: ROW_SCHEME, path, query: tone === 'normal' ? '' : `tone=${tone}` });
}

const COLLAPSE: Record<Row['collapsible'], vscode.TreeItemCollapsibleState> = {
  none: vscode.TreeItemCollapsibleState.None,
  collapsed: vscode.TreeItemCollapsibleState.Collapsed,
  expanded: vscode.TreeItemCollapsibleState.Expanded,
};

export interface ItemContext {
  /** The Dockerfile the shown image came from (layer rows open it at their line). */
  dockerfile?: vscode.Uri;
}

export function toTreeItem(row: Row, el: TreeEl, ctx: ItemContext): vscode.TreeItem {
  const item = new vscode.TreeItem(row.label, COLLAPSE[row.collapsible]);
  item.id = row.id;
  item.description = row.description;
  item.contextValue = row.contextValue;
  if (row.icon === 'file') item.iconPath = vscode.ThemeIcon.File;
  else if (row.icon === 'folder') item.iconPath = vscode.ThemeIcon.Folder;
  else item.iconPath = new vscode.ThemeIcon(row.icon, row.warn ? new vscode.ThemeColor('list.warningForeground') : undefined);
  if (row.path && el.kind !== 'layer' && el.kind !== 'base' && el.kind !== 'info') item.resourceUri = rowUri(row.path, row.tone);
  item.accessibilityInformation = { label: `${row.label}, ${row.description}` };
  if (el.kind === 'layer' && row.line !== undefined && ctx.dockerfile) {
    const pos = new vscode.Position(row.line - 1, 0);
    item.command = {
      command: 'vscode.open', title: 'Go to Dockerfile Line',
      arguments: [ctx.dockerfile, { selection: new vscode.Range(pos, pos), preview: true, preserveFocus: true }],
    };
  } else if (row.openable && row.layer !== undefined && row.path) {
    item.command = { command: COMMANDS.openFileVersion, title: 'Open This Version', arguments: [el] };
  } else if (el.kind === 'more') {
    item.command = { command: COMMANDS.showMore, title: 'Show More Rows', arguments: [el] };
  }
  return item;
}

/** Greys deleted rows and hidden copies; colours added / modified changes like SCM does. */
export class RowDecorations implements vscode.FileDecorationProvider {
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== ROW_SCHEME) return undefined;
    switch (new URLSearchParams(uri.query).get('tone')) {
      case 'deleted': return { color: new vscode.ThemeColor('disabledForeground'), badge: 'D', tooltip: 'Deleted (still shipped in a lower layer)' };
      case 'hidden': return { color: new vscode.ThemeColor('disabledForeground'), tooltip: 'Hidden copy (shipped, invisible)' };
      case 'added': return { color: new vscode.ThemeColor('gitDecoration.addedResourceForeground'), badge: 'A', tooltip: 'Added in this layer' };
      case 'modified': return { color: new vscode.ThemeColor('gitDecoration.modifiedResourceForeground'), badge: 'M', tooltip: 'Modified in this layer' };
      default: return undefined;
    }
  }
}

abstract class BaseProvider implements vscode.TreeDataProvider<TreeEl>, vscode.Disposable {
  protected readonly emitter = new vscode.EventEmitter<TreeEl | undefined | void>();
  readonly onDidChangeTreeData = this.emitter.event;
  model: TreeModel | undefined;
  ctx: ItemContext = {};

  setModel(model: TreeModel | undefined, ctx: ItemContext): void {
    this.model = model;
    this.ctx = ctx;
    this.emitter.fire();
  }

  /** The element whose children changed (none or null: the whole view). */
  refresh(el?: TreeEl | null): void {
    this.emitter.fire(el ?? undefined);
  }

  protected abstract mode(): FilesMode;
  abstract getChildren(el?: TreeEl): TreeEl[];

  getTreeItem(el: TreeEl): vscode.TreeItem {
    if (!this.model) return new vscode.TreeItem('');
    return toTreeItem(this.model.row(el, this.mode()), el, this.ctx);
  }

  resolveTreeItem(item: vscode.TreeItem, el: TreeEl): vscode.TreeItem {
    if (this.model) {
      const md = new vscode.MarkdownString(this.model.row(el, this.mode()).tooltip());
      md.supportThemeIcons = false;
      item.tooltip = md;
    }
    return item;
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** The "Layers" view: the base image group, then one row per layer, bottom to top. */
export class LayersProvider extends BaseProvider {
  protected mode(): FilesMode {
    return { wasteOnly: false };
  }

  getChildren(el?: TreeEl): TreeEl[] {
    if (!this.model) return [];
    return el ? this.model.children(el) : this.model.layerRoots();
  }

  getParent(el: TreeEl): TreeEl | undefined {
    return this.model?.parent(el);
  }
}

/** The "Merged Filesystem" view, or one layer's changes, optionally only rows with hidden bytes. */
export class FilesProvider extends BaseProvider {
  filesMode: FilesMode = { wasteOnly: false };

  protected mode(): FilesMode {
    return this.filesMode;
  }

  setMode(mode: FilesMode): void {
    this.filesMode = mode;
    this.emitter.fire();
  }

  getChildren(el?: TreeEl): TreeEl[] {
    if (!this.model) return [];
    return el ? this.model.children(el, this.filesMode) : this.model.fileRoots(this.filesMode);
  }

  getParent(el: TreeEl): TreeEl | undefined {
    const p = this.model?.parent(el);
    // In one-layer mode the layer's changes are the roots: their parent (a layer row) is not in this view.
    return p && (p.kind === 'layer' || p.kind === 'base') ? undefined : p;
  }
}
