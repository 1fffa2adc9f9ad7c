// Checkpoints in the C2SP tlog-checkpoint format, as C2SP signed notes: the note text is the
// origin, the tree size and the base64 root hash; each signature line is "— <key name>
// base64(key ID || signature)". Ed25519 keys held locally sign the text itself (type 0x01), so any
// Go sumdb/note verifier accepts them; every other agentkeys key (KMS of any spec, RSA, ECDSA,
// secp256k1, HMAC) signs SHA-256 of the text through the same signer as the audit rows, under
// signature type 0xff followed by the identifier "agentkeys/sha256-digest/<alg>".
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AgentkeysError } from '../errors.js';
import type { SigningAlg } from '../signing/algorithms.js';
import { decodeBase64Strict, verifySignature, type VerificationKey } from '../signing/verify.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** C2SP extension lines after the root (agentkeys writes its vouched ranges there); absent when none. */
  extensions?: string[];
}

export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Buffer;
}

/** What signs a checkpoint: an audit signer, and for local Ed25519 keys the private key itself. */
export interface CheckpointSigner {
  readonly kid: string;
  readonly alg: SigningAlg;
  sign(digest: Buffer): Promise<Buffer>;
  /** Local Ed25519 only: signs the note text (type 0x01). */
  readonly ed25519PrivateKey?: KeyObject | undefined;
  /** DER SPKI when the key has a public half; it goes into the key ID. */
  publicKeyDer?(): Promise<Buffer | undefined>;
}

const EM_DASH_LINE = '— ';
const MAX_SIGNATURES = 16;
const MAX_NOTE_BYTES = 64 * 1024;

function malformed(message: string): AgentkeysError {
  return new AgentkeysError({ code: 'CHECKPOINT_MALFORMED', message, hint: 'a checkpoint is a C2SP signed note' });
}

export function checkpointText(cp: Checkpoint): string {
  assertKeyName(cp.origin, 'origin');
  const extensions = (cp.extensions ?? []).map((line) => `${line}\n`).join('');
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\n${extensions}`;
}

const MAX_EXTENSIONS = 64;

/**
 * The note text of a checkpoint, strictly: origin, a canonical decimal size, a 32-byte root, then
 * up to 64 non-empty extension lines (C2SP tlog-checkpoint allows them; agentkeys puts the ranges
 * its writer vouches for there).
 */
export function parseCheckpointText(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.pop() !== '') throw malformed('the checkpoint text does not end in a newline');
  if (lines.length < 3)
    throw malformed(`a checkpoint has at least 3 lines (origin, size, root); this one has ${lines.length}`);
  if (lines.length > 3 + MAX_EXTENSIONS) throw malformed(`more than ${MAX_EXTENSIONS} extension lines`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (extensions.some((line) => line === '')) throw malformed('an empty extension line');
  if (origin === '') throw malformed('the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw malformed(`tree size "${sizeText.slice(0, 40)}" is not a decimal number without leading zeroes`);
  }
  const root = decodeBase64Strict(rootText);
  if (!root || root.length !== 32) throw malformed('the root hash is not the base64 of 32 bytes');
  return { origin, size: Number(sizeText), root, ...(extensions.length > 0 ? { extensions } : {}) };
}

/** Splits a signed note into its text and signature lines (C2SP signed-note §Format). */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (Buffer.byteLength(note) > MAX_NOTE_BYTES) throw malformed(`a note over ${MAX_NOTE_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw malformed('control characters in a note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw malformed('no blank line between the text and the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(EM_DASH_LINE)) throw malformed(`a signature line must start with "— ": ${line.slice(0, 40)}`);
  const parts = line.slice(EM_DASH_LINE.length).split(' ');
  if (parts.length !== 2 || parts[0] === '') throw malformed('a signature line is "— <name> <base64>"');
  const blob = decodeBase64Strict(parts[1]!);
  if (!blob || blob.length < 5)
    throw malformed(`the signature of ${parts[0]} is not base64 of a key ID and a signature`);
  return { name: parts[0]!, keyId: blob.readUInt32BE(0), signature: blob.subarray(4) };
}

export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  const lines = signatures.map((s) => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(s.keyId);
    return `${EM_DASH_LINE}${s.name} ${Buffer.concat([id, s.signature]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

function assertKeyName(name: string, what: string): void {
  if (name === '' || /[\s+]/u.test(name)) {
    throw new AgentkeysError({
      code: 'CHECKPOINT_KEY_NAME_INVALID',
      message: `${what} "${name}" cannot name a signed note: it is empty or holds a space or "+"`,
      hint: 'use a kid without spaces or "+" for checkpoint signing (a KMS key ARN works)',
    });
  }
}

/** key ID = SHA-256(key name || 0x0A || signature type || key material)[:4], big-endian. */
export function noteKeyId(name: string, type: Buffer, material: Buffer): number {
  return createHash('sha256')
    .update(name)
    .update(Buffer.of(0x0a))
    .update(type)
    .update(material)
    .digest()
    .readUInt32BE(0);
}

const ED25519_TYPE = Buffer.of(0x01);
const digestType = (alg: SigningAlg) => Buffer.concat([Buffer.of(0xff), Buffer.from(`agentkeys/sha256-digest/${alg}`)]);
// The 32 raw bytes of an Ed25519 public key are the last 32 of its 44-byte DER SPKI.
const ed25519Raw = (spki: Buffer) => spki.subarray(spki.length - 32);

/** Signs a checkpoint; the note it returns carries one signature line. */
export function signCheckpoint(cp: Checkpoint, signer: CheckpointSigner): Promise<string> {
  return signNote(checkpointText(cp), signer);
}

/** Signs any note text with one key (C2SP signed-note). */
export async function signNote(text: string, signer: CheckpointSigner): Promise<string> {
  assertKeyName(signer.kid, 'signer kid');
  const spki = (await signer.publicKeyDer?.()) ?? Buffer.alloc(0);
  if (signer.ed25519PrivateKey) {
    const keyId = noteKeyId(signer.kid, ED25519_TYPE, ed25519Raw(spki));
    const signature = cryptoSign(null, Buffer.from(text), signer.ed25519PrivateKey);
    return formatNote(text, [{ name: signer.kid, keyId, signature }]);
  }
  const signature = await signer.sign(createHash('sha256').update(text).digest());
  return formatNote(text, [
    { name: signer.kid, keyId: noteKeyId(signer.kid, digestType(signer.alg), spki), signature },
  ]);
}

type Rejection = {
  ok: false;
  code: 'CHECKPOINT_MALFORMED' | 'CHECKPOINT_SIGNATURE_INVALID' | 'CHECKPOINT_UNSIGNED';
  message: string;
};
export type NoteVerdict = { ok: true; text: string; signedBy: string[] } | Rejection;
export type CheckpointVerdict = { ok: true; checkpoint: Checkpoint; signedBy: string[] } | Rejection;

/** Opens a checkpoint note: its signatures (openNote), then its text. */
export function openCheckpoint(note: string, keyOf: (kid: string) => VerificationKey | undefined): CheckpointVerdict {
  const opened = openNote(note, keyOf);
  if (!opened.ok) return opened;
  try {
    return { ok: true, checkpoint: parseCheckpointText(opened.text), signedBy: opened.signedBy };
  } catch (err) {
    if (err instanceof AgentkeysError) return { ok: false, code: 'CHECKPOINT_MALFORMED', message: err.message };
    throw err;
  }
}

/**
 * Opens a signed note with the keys of signers.json (by key name = kid). Signatures by unknown
 * names are ignored, as the spec requires; one that names a known key and fails to verify
 * rejects the note; at least one must verify.
 */
export function openNote(note: string, keyOf: (kid: string) => VerificationKey | undefined): NoteVerdict {
  let parsed: ReturnType<typeof parseNote>;
  try {
    parsed = parseNote(note);
  } catch (err) {
    if (err instanceof AgentkeysError) return { ok: false, code: 'CHECKPOINT_MALFORMED', message: err.message };
    throw err;
  }
  const signedBy: string[] = [];
  for (const sig of parsed.signatures) {
    const key = keyOf(sig.name);
    const verdict = key ? verifyNoteSignature(parsed.text, sig, key) : 'unknown';
    if (verdict === 'unknown') continue;
    if (!verdict) {
      return {
        ok: false,
        code: 'CHECKPOINT_SIGNATURE_INVALID',
        message: `the signature by ${sig.name} does not verify`,
      };
    }
    signedBy.push(sig.name);
  }
  if (signedBy.length === 0) {
    const names = parsed.signatures.map((s) => s.name).join(', ');
    return {
      ok: false,
      code: 'CHECKPOINT_UNSIGNED',
      message: `no signature by a key in the registry (signed by ${names})`,
    };
  }
  return { ok: true, text: parsed.text, signedBy };
}

/** 'unknown' when the key ID names another type or key (the spec says: ignore it). */
function verifyNoteSignature(text: string, sig: NoteSignature, key: VerificationKey): boolean | 'unknown' {
  const spki = 'publicKey' in key ? (key.publicKey.export({ type: 'spki', format: 'der' }) as Buffer) : Buffer.alloc(0);
  if (key.alg === 'ed25519' && sig.keyId === noteKeyId(sig.name, ED25519_TYPE, ed25519Raw(spki))) {
    return cryptoVerify(null, Buffer.from(text), key.publicKey, sig.signature);
  }
  if (sig.keyId !== noteKeyId(sig.name, digestType(key.alg), spki)) return 'unknown';
  const message = Buffer.from(text);
  return verifySignature(key, { message, digest: createHash('sha256').update(message).digest() }, sig.signature);
}
