import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { InternalError, UsageError } from '../errors.js';
import { finished } from 'node:stream/promises';
import { removeOnInterrupt } from './cleanup.js';

export interface AtomicWriteOptions {
  /** File mode; secrets use 0o600. */
  mode?: number;
}

export interface AtomicFile {
  /** Write (or pipe) the content here; the file appears only on commit. */
  stream: Writable;
  /** Flush, fsync, rename over the destination, fsync the directory. */
  commit(): Promise<void>;
  /** Forget the temp file; the destination is untouched. */
  abort(): Promise<void>;
}

/**
 * A file that readers see whole or not at all: written to a temp file in the same directory,
 * then fsync, rename, fsync of the directory. Every file agentkeys writes goes through here.
 */
export async function openAtomicFile(file: string, mode = 0o644): Promise<AtomicFile> {
  const dir = path.dirname(path.resolve(file));
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const stream = createWriteStream(tmp, { flags: 'wx', mode });
  const forget = removeOnInterrupt(tmp, `the partial ${path.basename(file)}`);
  await once(stream, 'open');
  const abort = async () => {
    stream.destroy();
    await fsp.rm(tmp, { force: true });
    forget();
  };
  return {
    stream,
    abort,
    commit: async () => {
      try {
        if (!stream.writableEnded) stream.end();
        await finished(stream); // written and closed
        const handle = await fsp.open(tmp, 'r+');
        try {
          await handle.chmod(mode); // the umask may have narrowed or widened the open() mode
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fsp.rename(tmp, file);
        forget();
      } catch (err) {
        await abort();
        throw err;
      }
      await syncDirectory(dir);
    },
  };
}

export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const out = await openAtomicFile(file, opts.mode ?? 0o644);
  out.stream.end(data);
  await out.commit();
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

export async function fileExists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * A file agentkeys writes in place (a log) must be a regular file, or not exist yet. A symlink is
 * refused unless followSymlinks: logs sit in shared folders and are written by privileged operators,
 * so a link planted there would aim their writes anywhere. A folder is a usage error naming the path.
 */
export async function assertWritableFile(file: string, what: string, followSymlinks = false): Promise<void> {
  const link = await fsp.lstat(file).catch(() => undefined);
  if (!link) return;
  if (link.isSymbolicLink() && !followSymlinks)
    throw new UsageError({
      code: 'PATH_IS_SYMLINK',
      message: `${what} ${file} is a symlink (to ${await fsp.readlink(file).catch(() => '?')}): not written through`,
      hint: 'name the real file, or pass --follow-symlinks if the link is yours',
    });
  const target = link.isSymbolicLink() ? await fsp.stat(file).catch(() => undefined) : link;
  if (target?.isDirectory())
    throw new UsageError({
      code: 'PATH_IS_DIRECTORY',
      message: `${what} ${file} is a folder, not a file`,
      hint: `name a file, for example ${path.join(file, 'audit.jsonl')}`,
    });
}

/**
 * A path the operator typed must sit in a folder that exists: a mistyped parent is refused, never
 * created (`--log /nonexist/dir/a.jsonl`). Folders agentkeys owns (.agentkeys/…) are created as needed.
 */
export async function assertParentDirExists(file: string, what: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const stat = await fsp.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) {
    throw new UsageError({
      code: 'PARENT_DIR_MISSING',
      message: `${what} ${file}: the folder ${dir} does not exist`,
      hint: `check the path, or create the folder first: mkdir -p ${dir}`,
    });
  }
}

/**
 * The folder of agentkeys' own package.json, found upwards from a module of it: works from src/
 * (tests) and from dist/src/ (the built CLI). Stops at the filesystem root.
 */
export function packageRoot(fromModuleUrl: string): string {
  let dir = path.dirname(fileURLToPath(fromModuleUrl));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir)
      throw new InternalError({
        code: 'PACKAGE_ROOT_MISSING',
        message: `no package.json above ${fileURLToPath(fromModuleUrl)}`,
        hint: 'reinstall agentkeys (npm ci)',
      });
    dir = up;
  }
  return dir;
}

/** An output file the operator named: never replaced without --force (OUTPUT_EXISTS). */
export async function assertNewOutput(file: string, force: boolean, flag = '--out'): Promise<void> {
  await assertWritableFile(file, flag, true);
  if (force || !(await fileExists(file))) return;
  throw new UsageError({
    code: 'OUTPUT_EXISTS',
    message: `${file} exists; nothing was written`,
    hint: `pass --force to replace it, or choose another ${flag}`,
  });
}
