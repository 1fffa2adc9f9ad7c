import { promises as fsp } from 'node:fs';
import { anchorPathFor, anchorSignedBytes, ANCHOR_FORMAT, type Anchor } from '../audit/anchor.js';
import type { ChainHead } from '../audit/chain.js';
import { AgentkeysError } from '../errors.js';
import { signAndCheck, type AuditSigner } from '../signing/signer.js';
import { writeFileAtomic } from '../sys/fs.js';

export async function readAnchorIfExists(file: string): Promise<{ path: string; text: string } | undefined> {
  try {
    return { path: file, text: await fsp.readFile(file, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentkeysError({
      code: 'ANCHOR_UNREADABLE',
      message: `cannot read anchor ${file}: ${(err as Error).message}`,
      cause: err,
    });
  }
}

/** Reads the anchor verification was told to use: a path, the default beside a file log, or none. */
export async function readChosenAnchor(choice: string | false | undefined, defaultPath: string | null) {
  if (choice === false) return undefined;
  const file = choice ?? defaultPath;
  return file === null ? undefined : readAnchorIfExists(file);
}

/** Signs `<log>.anchor.json` for a chain of this length and head (self-checked before it is written). */
export async function signAnchorFor(log: string, head: ChainHead, signer: AuditSigner): Promise<void> {
  const unsigned = {
    format: ANCHOR_FORMAT,
    events: head.events,
    head: head.prevHash!,
    signer_kid: signer.kid,
    updated_at: new Date().toISOString(),
  } as const;
  const signature = await signAndCheck(signer, anchorSignedBytes(unsigned));
  const anchor: Anchor = { ...unsigned, signature: signature.toString('base64') };
  await writeFileAtomic(anchorPathFor(log), `${JSON.stringify(anchor, null, 2)}\n`);
}
