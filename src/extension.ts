import * as vscode from 'vscode';

// Thin activation: every registration goes into the extension's disposable scope.
export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Layer Lens');
  context.subscriptions.push(output);
  output.appendLine('Layer Lens activated');
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
