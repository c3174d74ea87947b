// The command table (src/vscode/commands.ts) and package.json name exactly the same commands: a
// command added on one side only fails here. Menus, welcome views and links name only commands
// of the table, and commands are registered in one place (the table's registerCommands).
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../../src/vscode/commands';
import { repoRoot } from '../../support/repo';

const root = repoRoot();
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: {
    commands: Array<{ command: string }>;
    menus: Record<string, Array<{ command: string }>>;
    viewsWelcome: Array<{ contents: string }>;
  };
};
const table: string[] = Object.values(COMMANDS);
const contributed = pkg.contributes.commands.map((c) => c.command);

test('the command table and package.json contributes.commands name the same ids', () => {
  const notContributed = table.filter((id) => !contributed.includes(id));
  const notInTable = contributed.filter((id) => !table.includes(id as never));
  assert.deepEqual({ notContributed, notInTable }, { notContributed: [], notInTable: [] });
  assert.equal(new Set(table).size, table.length, 'an id twice in the table');
  assert.equal(new Set(contributed).size, contributed.length, 'an id twice in package.json');
  assert.ok(table.length >= 10, `${table.length} commands`);
});

test('menus and welcome views of package.json name only commands of the table', () => {
  const named = [
    ...Object.values(pkg.contributes.menus).flat().map((m) => m.command),
    ...pkg.contributes.viewsWelcome.flatMap((v) => [...v.contents.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1])),
  ];
  assert.ok(named.length > 10, `${named.length} references`);
  assert.deepEqual(named.filter((id) => !table.includes(id)), []);
});

test('commands are registered in one place: registerCommands of the table', () => {
  const files = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const registering = files.filter((f) => /\bregisterCommand\s*\(/.test(readFileSync(path.join(root, 'src', f), 'utf8')))
    .map((f) => f.split(path.sep).join('/'));
  assert.deepEqual(registering, ['vscode/commands.ts']);
});
