// `files --json` bytes (fileJsonChunks) against JSON.stringify of the file records, for names that
// JSON must escape, non-ASCII names, links, deleted paths shipped by several layers, and any chunk
// size (a chunk may end anywhere in a line).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyze } from '../../../../src/core/image/analysis';
import { fileJsonChunks, fileJsonLines, fileRecords } from '../../../../src/core/present/report';
import { loadImage } from '../../../../src/sources/load';
import { dockerSave } from '../../support/tars';
import { member, pax, rawTar } from '../../support/rawtar';

test('files --json: the chunks are the records as JSON.stringify writes them, whatever the chunk size', async () => {
  const layers = [
    rawTar(
      member({ name: 'etc/', type: '5', mode: 0o755 }),
      member({ name: 'etc/quote"d' }, 'a'),
      member({ name: 'etc/back\\slash' }, 'bb'),
      member({ name: 'etc/tab\there' }, 'ccc'),
      member({ name: 'etc/ctl\x01\x1f' }, 'd'),
      pax({ path: 'etc/é-ü-中文-😀' }), member({ name: 'ignored' }, 'eeee'),
      pax({ path: 'etc/line\nbreak' }), member({ name: 'ignored2' }, 'f'),
      member({ name: 'etc/link', type: '2', linkname: '../"x"\\y' }),
      member({ name: 'etc/hard', type: '1', linkname: 'etc/quote"d' }),
      member({ name: 'gone/' , type: '5' }),
      member({ name: 'gone/file' }, 'x'.repeat(1000)),
      member({ name: 'twice' }, 'y'.repeat(700)),
      member({ name: 'mode', mode: 0o4755 }, 'z'),
    ),
    rawTar(
      member({ name: 'twice' }, 'y'.repeat(300)),
      member({ name: 'gone/file' }, 'x'.repeat(10)),
      member({ name: 'etc/tab\there', mode: 0o600 }, 'ccc'),
    ),
    rawTar(member({ name: '.wh.gone' }), member({ name: 'etc/.wh.ctl\x01\x1f' })),
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-files-json-'));
  try {
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave({ layers, tag: 'files:1' }));
    const a = analyze(await loadImage({ kind: 'docker-archive', path: file }, {}));
    const records = [...fileRecords(a)];
    const expected = records.map((r) => JSON.stringify(r) + '\n').join('');
    // What the cases are meant to reach.
    assert.ok(records.some((r) => 'deleted' in r && r.shippedIn.length === 2), 'a deleted path two layers shipped');
    assert.ok(records.some((r) => r.path.includes('😀')) && records.some((r) => r.path.includes('\n')));
    assert.ok(records.some((r) => !('deleted' in r) && r.hides.length === 1), 'a path that hides a lower copy');
    for (const size of [1, 7, 100, 1 << 20]) {
      const chunks = [...fileJsonChunks(a, size)];
      assert.equal(Buffer.concat(chunks).toString('utf8'), expected, `chunk size ${size}`);
      if (size === 1) assert.equal(chunks.length, records.length, 'one line per chunk when every line fills one');
    }
    assert.deepEqual(fileJsonLines(a), records.map((r) => JSON.stringify(r)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
