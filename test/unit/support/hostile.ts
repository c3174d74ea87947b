// Assertions shared by the hostile-input tests: every case runs the full read → analyze path with
// the fs write watch on, and ends either in a result or in a typed ImageFormatError.
import * as assert from 'node:assert/strict';
import { ImageFormatError, type FormatErrorCode } from '../../../src/core/image/errors';
import { runPipeline, type PipelineResult } from '../../fuzz/pipeline';
import { withNoWrites } from './nowrites';
import { chunks } from './tars';

function checkNoWrites(watch: { calls: string[]; leftovers: string[] }, label: string): void {
  assert.deepEqual(watch.calls, [], `${label}: file-system writes while reading`);
  assert.deepEqual(watch.leftovers, [], `${label}: files left in the working directory`);
}

/** Runs `fn` under the write watch; it must reject with an ImageFormatError (of `code` when given). */
export async function expectFormatError(fn: () => Promise<unknown>, code: FormatErrorCode | FormatErrorCode[] | undefined, label: string): Promise<ImageFormatError> {
  const { error, watch } = await withNoWrites(fn);
  checkNoWrites(watch, label);
  assert.ok(error !== undefined, `${label}: expected an error, got a result`);
  assert.ok(error instanceof ImageFormatError, `${label}: expected ImageFormatError, got ${(error as Error)?.name}: ${(error as Error)?.message}\n${(error as Error)?.stack}`);
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(error.code), `${label}: code ${error.code} (${error.message}), expected ${codes.join('|')}`);
  }
  assert.ok(!error.message.includes('\n'), `${label}: one-line message`);
  return error;
}

/** Runs `fn` under the write watch; it must resolve. */
export async function expectResult<T>(fn: () => Promise<T>, label: string): Promise<T> {
  const { value, error, watch } = await withNoWrites(fn);
  checkNoWrites(watch, label);
  if (error !== undefined) assert.fail(`${label}: expected a result, got ${(error as Error)?.name}: ${(error as Error)?.message}\n${(error as Error)?.stack}`);
  return value as T;
}

/** The whole pipeline over an in-memory archive, fed in small chunks. */
export function pipeline(buf: Buffer): () => Promise<PipelineResult> {
  return () => runPipeline(chunks(buf, 4093));
}

/** Either outcome is acceptable, but only these two. */
export async function expectResultOrFormatError(fn: () => Promise<unknown>, label: string): Promise<void> {
  const { error, watch } = await withNoWrites(fn);
  checkNoWrites(watch, label);
  if (error !== undefined && !(error instanceof ImageFormatError)) {
    assert.fail(`${label}: ${(error as Error)?.name}: ${(error as Error)?.message}\n${(error as Error)?.stack}`);
  }
}
