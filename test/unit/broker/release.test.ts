// Where broker setup's binaries come from (step 4), decided before anything connects.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseOf } from '../../../src/broker/release.js';
import type { HostService } from '../../../src/broker/render.js';
import { tempDir } from '../../helpers/tmp.js';

const services: HostService[] = [
  { name: 'broker', host: 'b.x', port: 8080, binary: 'agentkeys-broker-server' },
  { name: 'signer', host: 's.x', port: 8090, binary: 'agentkeys-signer' },
];
const ref = 'a'.repeat(40);
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (err: { code?: string }) => err.code,
  );

describe('releaseOf', () => {
  it('hashes every service binary of an upload folder, and names the ones missing', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'agentkeys-broker-server'), 'broker');
    expect(await codeOf(releaseOf({ uploadBin: dir }, services))).toBe('BIN_DIR_INCOMPLETE');
    writeFileSync(path.join(dir, 'agentkeys-signer'), 'signer');
    const r = await releaseOf({ uploadBin: dir }, services);
    expect(r).toMatchObject({ kind: 'upload', binaries: [{ binary: 'agentkeys-broker-server', size: 6 }, {}] });
    expect(r?.kind === 'upload' && r.binaries[0]!.sha256).toBe(createHash('sha256').update('broker').digest('hex'));
    mkdirSync(path.join(dir, 'sub'));
    expect(await codeOf(releaseOf({ uploadBin: path.join(dir, 'sub') }, services))).toBe('BIN_DIR_INCOMPLETE');
  });

  it('a build needs a full commit, a repository and an output folder inside the checkout', async () => {
    expect(await releaseOf({}, services)).toBeUndefined();
    expect(await codeOf(releaseOf({ uploadBin: '.', buildRef: ref }, services))).toBe('FLAG_CONFLICT');
    expect(await codeOf(releaseOf({ repo: 'https://x/y.git' }, services))).toBe('FLAG_CONFLICT');
    expect(await codeOf(releaseOf({ buildRef: 'main', repo: 'r' }, services))).toBe('FLAG_INVALID');
    expect(await codeOf(releaseOf({ buildRef: ref }, services))).toBe('FLAG_MISSING');
    for (const out of ['/abs', '../up', 'a/../../b'])
      expect(await codeOf(releaseOf({ buildRef: ref, repo: 'r', buildOut: out }, services))).toBe('FLAG_INVALID');
    expect(await releaseOf({ buildRef: ref, repo: 'r' }, services)).toEqual({
      kind: 'build',
      repo: 'r',
      ref,
      command: 'cargo build --release --locked',
      out: 'target/release',
    });
  });
});
