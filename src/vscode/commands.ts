// The commands Layer Lens contributes, in one table: package.json's contributes.commands names
// exactly these ids (test/unit/vscode/commands.test.ts checks both ways). Each contribution returns
// the handlers of the commands it implements; activation registers the complete table once, and
// the compiler refuses a table with a command missing. Lenses, links and other code name commands
// through COMMANDS too.
import * as vscode from 'vscode';

export const COMMANDS = {
  openImage: 'layerLens.openImage',
  refresh: 'layerLens.refresh',
  buildImage: 'layerLens.buildImage',
  buildStageImages: 'layerLens.buildStageImages',
  explainLayer: 'layerLens.explainLayer',
  revealLayer: 'layerLens.revealLayer',
  showLensLayer: 'layerLens.showLensLayer',
  revealLine: 'layerLens.revealLine',
  findFile: 'layerLens.findFile',
  chooseLayer: 'layerLens.chooseLayer',
  toggleWasteFilter: 'layerLens.toggleWasteFilter',
  openFileVersion: 'layerLens.openFileVersion',
  showMore: 'layerLens.showMore',
  compareWithVisible: 'layerLens.compareWithVisible',
  checkSecrets: 'layerLens.checkSecrets',
  compareWithPreviousBuild: 'layerLens.compareWithPreviousBuild',
  showBuildHistory: 'layerLens.showBuildHistory',
} as const;

export type CommandName = keyof typeof COMMANDS;
export type CommandId = (typeof COMMANDS)[CommandName];

/**
 * A command's handler. Its arguments come from menus (tree rows), lenses, links, the palette
 * (none) or other code, so handlers check what they get.
 */
export type CommandHandler = (...args: never[]) => unknown;

/** One handler per command. */
export type CommandHandlers = { [K in CommandName]: CommandHandler };

/** What a contribution hands back: what is disposed with the extension, and the handlers of its commands. */
export interface Contribution<K extends CommandName = never> {
  disposables: vscode.Disposable[];
  commands: Pick<CommandHandlers, K>;
}

/** Registers every command of the table with its handler. */
export function registerCommands(handlers: CommandHandlers): vscode.Disposable[] {
  return (Object.keys(COMMANDS) as CommandName[]).map((name) => vscode.commands.registerCommand(COMMANDS[name], handlers[name]));
}
