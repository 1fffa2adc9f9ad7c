import { promises as fsp } from 'node:fs';
import { writeFileAtomic } from '../sys/fs.js';

/**
 * Sets KEY=value in an env file the way an operator would edit it: the last KEY= line is
 * replaced in place (or the line appended), every comment and other line is kept, the file mode
 * is kept, and the write is atomic. Returns false when the value was already there.
 */
export async function setEnvValue(file: string, key: string, value: string): Promise<boolean> {
  const text = await fsp.readFile(file, 'utf8');
  const mode = (await fsp.stat(file)).mode & 0o777;
  const lines = text.split('\n');
  const pattern = new RegExp(`^(export\\s+)?${key}=`);
  let index = -1;
  lines.forEach((line, i) => {
    if (pattern.test(line.trim())) index = i;
  });
  const next = `${key}=${value}`;
  if (index >= 0 && lines[index] === next) return false;
  if (index >= 0) lines[index] = next;
  else {
    if (lines[lines.length - 1] === '') lines.pop();
    lines.push(next, '');
  }
  await writeFileAtomic(file, lines.join('\n'), { mode });
  return true;
}
