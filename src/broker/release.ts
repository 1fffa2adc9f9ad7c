// Where broker setup's binaries come from (step 4), checked before anything connects: a folder
// of prebuilt binaries here (every service's one, hashed), or the upstream repository at a commit.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import type { LocalBinary, Release } from './context.js';
import type { HostService } from './render.js';

export interface ReleaseFlags {
  uploadBin?: string;
  buildRef?: string;
  repo?: string;
  buildCommand?: string;
  buildOut?: string;
}

export const DEFAULT_BUILD_COMMAND = 'cargo build --release --locked';

export async function releaseOf(flags: ReleaseFlags, services: HostService[]): Promise<Release | undefined> {
  if (flags.uploadBin !== undefined && flags.buildRef !== undefined)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--upload-bin and --build-ref are two ways to the same binaries: pick one',
      hint: '--upload-bin ./target/release (prebuilt here) or --build-ref COMMIT --repo URL (built on the host)',
    });
  if (flags.uploadBin !== undefined)
    return { kind: 'upload', dir: flags.uploadBin, binaries: await hashAll(flags.uploadBin, services) };
  if (flags.buildRef === undefined) {
    const stray = (['repo', 'buildCommand', 'buildOut'] as const).filter((k) => flags[k] !== undefined);
    if (stray.length > 0)
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: `${stray.map(flagName).join(', ')} only go with --build-ref`,
        hint: '--build-ref COMMIT --repo URL',
      });
    return undefined;
  }
  if (!/^[0-9a-f]{40}$/.test(flags.buildRef))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--build-ref "${flags.buildRef}" is not a full commit hash: a branch or tag can move under a build`,
      hint: 'pin the commit: --build-ref $(git rev-parse v1.4.0)',
    });
  if (!flags.repo)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--build-ref needs --repo: the repository the host clones',
      hint: '--repo https://github.com/litentry/agentKeys.git',
    });
  const out = flags.buildOut ?? 'target/release';
  if (path.posix.isAbsolute(out) || out.split('/').includes('..'))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--build-out "${out}" is not a folder inside the checkout`,
      hint: '--build-out target/release',
    });
  return {
    kind: 'build',
    repo: flags.repo,
    ref: flags.buildRef,
    command: flags.buildCommand ?? DEFAULT_BUILD_COMMAND,
    out,
  };
}

const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

async function hashAll(dir: string, services: HostService[]): Promise<LocalBinary[]> {
  const missing: string[] = [];
  const out: LocalBinary[] = [];
  for (const binary of [...new Set(services.map((s) => s.binary))]) {
    const file = path.join(dir, binary);
    const stat = await fsp.stat(file).catch(() => undefined);
    if (!stat?.isFile()) {
      missing.push(binary);
      continue;
    }
    out.push({ binary, file, size: stat.size, sha256: await sha256File(file) });
  }
  if (missing.length > 0)
    throw new UsageError({
      code: 'BIN_DIR_INCOMPLETE',
      message:
        `${dir} lacks ${missing.length} of the ${out.length + missing.length} service binaries: ` + missing.join(', '),
      hint: 'build the whole workspace (cargo build --release) and pass its target/release',
    });
  return out;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
