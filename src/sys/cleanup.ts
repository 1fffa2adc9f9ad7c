// What an interrupted command leaves behind is removed before it exits: temp files of atomic
// writes (a half-written ciphertext or export), throwaway key folders, the sandbox's folder. Their
// owners register them while they exist; the CLI's SIGINT handler removes whatever is registered.
import { rmSync } from 'node:fs';

const leftovers = new Map<string, string>();

/** Registers a path (file or folder) to remove on interrupt; call the result once it is dealt with. */
export function removeOnInterrupt(p: string, what: string): () => void {
  leftovers.set(p, what);
  return () => void leftovers.delete(p);
}

/** Removes every registered path, synchronously (the process is about to exit); says what went. */
export function removeInterruptedLeftovers(): string[] {
  const removed: string[] = [];
  for (const [p, what] of leftovers) {
    try {
      rmSync(p, { recursive: true, force: true });
      removed.push(`${what} ${p}`);
    } catch {
      /* best effort: the process exits either way */
    }
  }
  leftovers.clear();
  return removed;
}
