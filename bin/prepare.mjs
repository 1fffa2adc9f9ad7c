#!/usr/bin/env node
// npm's prepare hook (npm ci, npm link, and the first `npx agentkeys` in the clone): compiles
// only when dist/ is missing or older than a source file, so an up-to-date clone starts at once.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'bin', 'agentkeys.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

const builtAt = (() => {
  try {
    return statSync(built).mtimeMs;
  } catch {
    return 0;
  }
})();
const sources = Math.max(
  statSync(path.join(root, 'tsconfig.json')).mtimeMs,
  ...['bin', 'src', 'commands', path.join('test', 'bench'), path.join('test', 'helpers')].map((d) =>
    newestSource(path.join(root, d)),
  ),
);
if (builtAt > sources) process.exit(0);
const tsc = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')],
  { stdio: 'inherit' },
);
process.exit(tsc.status ?? 1);
