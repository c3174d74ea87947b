// A Debian 12 base image for integration tests, without a registry: `debootstrap --variant=minbase
// --include=python3 bookworm` from Debian's mirror (the one apt uses), made once per machine
// (kept as a tar under .cache/, reused while it exists) and `docker import`ed once per engine.
import { existsSync } from 'node:fs';
import { mkdir, rm, rename } from 'node:fs/promises';
import * as path from 'node:path';
import { docker, imageId, repoRoot, requireEngine, run, runOk, withLock } from './engine';

export const DEBIAN_IMAGE = 'layerlens-test/debian:bookworm';
const MIRROR = process.env.LAYERLENS_DEBIAN_MIRROR || 'http://deb.debian.org/debian';

/** The rootfs tar (debootstrap once; minutes the first time). */
async function rootfsTar(): Promise<string> {
  const dir = path.join(repoRoot(), '.cache', 'debian-bookworm');
  const tar = path.join(dir, 'rootfs.tar');
  if (existsSync(tar)) return tar;
  return withLock('debootstrap', async () => {
    if (existsSync(tar)) return tar;
    const root = path.join(dir, 'rootfs');
    await rm(root, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await runOk('debootstrap', ['--variant=minbase', '--include=python3', 'bookworm', root, MIRROR], { timeoutMs: 1_200_000 });
    await runOk('tar', ['--numeric-owner', '-C', root, '-cf', tar + '.part', '.']);
    await rename(tar + '.part', tar);
    await rm(root, { recursive: true, force: true });
    return tar;
  }, 1_500_000);
}

/** layerlens-test/debian:bookworm in the test engine (Debian 12 minbase with python3). */
export async function ensureDebianImage(): Promise<string> {
  await requireEngine();
  return withLock('debian-image', async () => {
    if ((await run(process.env.LAYERLENS_DOCKER || '/usr/bin/docker', ['image', 'inspect', DEBIAN_IMAGE])).code === 0) return imageId(DEBIAN_IMAGE);
    const tar = await rootfsTar();
    await docker(['import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--change', 'CMD ["bash"]',
      '--message', 'layerlens test base: debootstrap bookworm minbase + python3', tar, DEBIAN_IMAGE], { timeoutMs: 600_000 });
    return imageId(DEBIAN_IMAGE);
  }, 1_800_000);
}
