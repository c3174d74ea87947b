// Runs a CLI script (the bundle or the compiled main) as its own process and keeps its stdout as
// bytes (`cat` writes file contents), its stderr as text and its exit code.
import { spawn } from 'node:child_process';

export interface CliRun { code: number | null; stdout: Buffer; stderr: string }

export function runCli(script: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}
