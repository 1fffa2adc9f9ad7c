import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

/**
 * The CLI tests run dist/bin/agentkeys.js as an operator would: rebuild it first when any source is
 * newer (bin/prepare.mjs, the same check as npm's prepare hook), so `vitest run test/cli/x` alone
 * never tests a stale build.
 */
function buildWhenStale(): void {
  const r = spawnSync(process.execPath, ['bin/prepare.mjs'], { stdio: 'inherit' });
  if (r.status !== 0)
    throw new Error(`the build failed (node bin/prepare.mjs exited ${r.status}): fix it before the tests run`);
}

export default async function setup(project: TestProject): Promise<() => void> {
  buildWhenStale();
  const pg = await startPostgres();
  project.provide('pgUrl', pg.url);
  return () => pg.stop();
}
