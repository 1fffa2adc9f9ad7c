// Checkpoints as C2SP signed notes. The byte-for-byte oracle is the published example of Go's
// golang.org/x/mod/sumdb/note (the PeterNeumann key, its verifier key and signature): Ed25519 is
// deterministic, so signing the same text with the same key must give the same note.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkpointText,
  noteKeyId,
  openCheckpoint,
  openNote,
  parseCheckpointText,
  signCheckpoint,
  signNote,
} from '../../../src/audit/checkpoint.js';
import { LocalKeySigner } from '../../../src/signing/signer.js';
import type { VerificationKey } from '../../../src/signing/verify.js';

const GO_SIGNER_KEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

// The Go key strings: name+hash+base64(type byte || key bytes); the base64 may hold a '+'.
const keyBytes = (key: string) =>
  Buffer.from(
    key
      .split('+')
      .slice(key.startsWith('PRIVATE') ? 4 : 2)
      .join('+'),
    'base64',
  ).subarray(1);
const peterPrivate = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), keyBytes(GO_SIGNER_KEY)]),
  format: 'der',
  type: 'pkcs8',
});
const peterPublic = createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), keyBytes(GO_VERIFIER_KEY)]),
  format: 'der',
  type: 'spki',
});

describe('C2SP signed notes and checkpoints', () => {
  it('signs the Go sumdb/note example byte for byte, and opens it', async () => {
    expect(noteKeyId('PeterNeumann', Buffer.of(1), keyBytes(GO_VERIFIER_KEY)).toString(16)).toBe('c74f20a3');
    const signer = new LocalKeySigner('PeterNeumann', peterPrivate, 'test');
    expect(await signNote(GO_TEXT, signer)).toBe(GO_NOTE);
    const keys = (kid: string): VerificationKey | undefined =>
      kid === 'PeterNeumann' ? { alg: 'ed25519', publicKey: peterPublic } : undefined;
    expect(openNote(GO_NOTE, keys)).toEqual({ ok: true, text: GO_TEXT, signedBy: ['PeterNeumann'] });
    expect(openNote(GO_NOTE.replace('cryptography', 'cryptographY'), keys)).toMatchObject({
      ok: false,
      code: 'CHECKPOINT_SIGNATURE_INVALID',
    });
    expect(openNote(GO_NOTE, () => undefined)).toMatchObject({ ok: false, code: 'CHECKPOINT_UNSIGNED' });
  });

  it('the checkpoint text is the C2SP layout, parsed strictly', () => {
    const root = Buffer.from('0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62', 'hex');
    // The tlog-checkpoint spec's example body.
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    expect(checkpointText({ origin: 'example.com/behind-the-sofa', size: 20852163, root })).toBe(text);
    expect(parseCheckpointText(text)).toEqual({ origin: 'example.com/behind-the-sofa', size: 20852163, root });
    for (const bad of [
      'a\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
      'a\n1\nAAAA\n',
      'a\n1\n',
      '\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
      'a\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    ]) {
      expect(() => parseCheckpointText(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'CHECKPOINT_MALFORMED' }),
      );
    }
  });

  it.each(['ed25519', 'ecdsa-p256', 'ecdsa-secp256k1', 'rsa-sha256'] as const)(
    'a checkpoint signed by a local %s key opens with its public key only',
    async (alg) => {
      const pair =
        alg === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : alg === 'rsa-sha256'
            ? generateKeyPairSync('rsa', { modulusLength: 2048 })
            : generateKeyPairSync('ec', { namedCurve: alg === 'ecdsa-p256' ? 'prime256v1' : 'secp256k1' });
      const signer = new LocalKeySigner(`agentkeys.test/${alg}`, pair.privateKey, 'test');
      const cp = { origin: 'agentkeys.test/log', size: 42, root: Buffer.alloc(32, 7) };
      const note = await signCheckpoint(cp, signer);
      const keys = (kid: string): VerificationKey | undefined =>
        kid === signer.kid ? { alg, publicKey: pair.publicKey } : undefined;
      expect(openCheckpoint(note, keys)).toEqual({ ok: true, checkpoint: cp, signedBy: [signer.kid] });
      // Another key of the same name: its key ID differs, so the signature is ignored, not misread.
      const other =
        alg === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : alg === 'rsa-sha256'
            ? generateKeyPairSync('rsa', { modulusLength: 2048 })
            : generateKeyPairSync('ec', { namedCurve: alg === 'ecdsa-p256' ? 'prime256v1' : 'secp256k1' });
      expect(openCheckpoint(note, () => ({ alg, publicKey: other.publicKey }))).toMatchObject({
        ok: false,
        code: 'CHECKPOINT_UNSIGNED',
      });
      expect(openCheckpoint(note.replace('\n42\n', '\n43\n'), keys)).toMatchObject({
        ok: false,
        code: 'CHECKPOINT_SIGNATURE_INVALID',
      });
    },
  );

  it('malformed notes are named, never thrown', () => {
    for (const bad of [
      'no blank line\n— a AAAAAAAA\n',
      'text\n\nnot a signature\n',
      'text\n\n— a !!!\n',
      'a\u0001\n\n— a AAAAAAAA\n',
    ]) {
      expect(openNote(bad, () => undefined)).toMatchObject({ ok: false, code: 'CHECKPOINT_MALFORMED' });
    }
  });
});
