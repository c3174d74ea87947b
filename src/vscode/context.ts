import type * as vscode from 'vscode';
import type { EngineConnection } from './engine';
import type { ImageService } from './imageService';

/** What every contribution gets: shared services, all disposed with the extension. */
export interface LayerLens {
  context: vscode.ExtensionContext;
  output: vscode.OutputChannel;
  log: (line: string) => void;
  engine: EngineConnection;
  images: ImageService;
}
