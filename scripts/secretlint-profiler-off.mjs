// @secretlint/profiler as Layer Lens bundles it: switched off. secretlint's own profiler observes
// every performance mark its lint makes, keeps each one forever and searches all of them for every
// new one, so a lint costs time in proportion to the lints made before it: 6,182 files of a Debian
// image took 5 min 55 s with it and 4.5 s of linting without it (2026-12-07, 2-core Debian 12 VM,
// Node 20). secretlint reads its figures only for its CLI's --profile option, which Layer Lens
// does not use.
export class SecretLintProfiler {
  mark() {}
  async getEntries() { return []; }
  async getMeasures() { return []; }
}
export const secretLintProfiler = new SecretLintProfiler();
