import type * as vscode from 'vscode';
import type { EngineConnection } from './engine';
import type { ImageService } from './imageService';
import type { DockerfileImages } from './dockerfileImages';

/** What every contribution gets: shared services, all disposed with the extension. */
export interface LayerLens {
  context: vscode.ExtensionContext;
  output: vscode.OutputChannel;
  log: (line: string) => void;
  engine: EngineConnection;
  images: ImageService;
  /** Which image each Dockerfile built, and its per-line sizes and cache status. */
  dockerfiles: DockerfileImages;
}
