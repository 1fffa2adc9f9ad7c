import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../sys/fs.js';
import { errnoCode } from '../sys/operator-file.js';

/**
 * Access keys minted by setup go into an AWS shared-credentials file (0600), one profile per
 * user, never to the terminal unless --show-secret. Other profiles in the file are kept.
 */
export async function readProfiles(file: string): Promise<Map<string, Record<string, string>>> {
  let text = '';
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const profiles = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = {};
      profiles.set(header[1]!, current);
    } else if (current && line.includes('=') && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      current[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
  }
  return profiles;
}

export async function writeProfile(file: string, profile: string, values: Record<string, string>): Promise<void> {
  const profiles = await readProfiles(file);
  profiles.set(profile, values);
  await writeFileAtomic(file, renderProfiles(profiles), { mode: 0o600 });
}

function renderProfiles(profiles: Map<string, Record<string, string>>): string {
  return [...profiles]
    .map(
      ([name, v]) =>
        `[${name}]\n${Object.entries(v)
          .map(([k, x]) => `${k} = ${x}`)
          .join('\n')}\n`,
    )
    .join('\n');
}

/** Removes one profile; returns how many are left. */
export async function removeProfile(file: string, profile: string): Promise<number> {
  const profiles = await readProfiles(file);
  if (!profiles.delete(profile)) return profiles.size;
  await writeFileAtomic(file, renderProfiles(profiles), { mode: 0o600 });
  return profiles.size;
}
