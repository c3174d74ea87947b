// Random stacks of layer tars for the differential tests of the image index and what reads it.
import { member, rawTar } from './rawtar';
import { Rng } from '../../fuzz/mutate';

/** Random layer tars: files, directories with random modes, duplicates, links, escapes, whiteouts (bare `.wh.` too), opaque dirs. */
export function randomLayers(seed: number): Buffer[] {
  const r = new Rng(seed);
  // Names one of which extends another by a character that sorts before '/' ('-', '.') or after it.
  const names = ['a', 'b', 'c', 'd', 'e', 'a-', 'a.b', 'ab'];
  const randomPath = (): string => Array.from({ length: 1 + r.int(4) }, () => names[r.int(names.length)]).join('/');
  const layers: Buffer[] = [];
  for (let l = 1 + r.int(6); l > 0; l--) {
    const parts: Buffer[] = [];
    for (let i = r.int(16); i > 0; i--) {
      const p = randomPath();
      const kind = r.int(12);
      if (kind < 3) parts.push(member({ name: p + '/', type: '5', mode: r.int(3) === 0 ? 0o700 : 0o755 }));
      else if (kind === 3) parts.push(member({ name: p, type: '1', linkname: randomPath() }));
      else if (kind === 4) parts.push(member({ name: p, type: '2', linkname: '../' + randomPath() }));
      else if (kind === 5 && r.int(3) === 0) parts.push(member({ name: '../' + p }, 'y'));
      else if (kind === 6) parts.push(member({ name: p, mode: 0o600 }, 'x'.repeat(r.int(4) * 100)));
      else parts.push(member({ name: p }, 'x'.repeat(r.int(5) * 100)));
    }
    if (layers.length > 0) {
      for (let i = r.int(4); i > 0; i--) {
        const p = randomPath().split('/');
        p[p.length - 1] = r.int(8) === 0 ? '.wh.' : '.wh.' + p[p.length - 1];
        parts.push(member({ name: p.join('/') }));
      }
      if (r.int(3) === 0) parts.push(member({ name: randomPath() + '/.wh..wh..opq' }));
    }
    // Entries of one layer in a random order (tar order need not group a directory's entries).
    if (r.int(2) === 0) for (let i = parts.length - 1; i > 0; i--) { const j = r.int(i + 1); [parts[i], parts[j]] = [parts[j], parts[i]]; }
    layers.push(rawTar(...parts));
  }
  return layers;
}
