import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { removeOnInterrupt } from '../sys/cleanup.js';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../sys/fs.js';

export interface EphemeralKey {
  /** 0600 file in a 0700 folder, for `ssh -i`. */
  privateKeyFile: string;
  /** OpenSSH public key line: "ssh-rsa AAAA… agentkeys". */
  publicKey: string;
}

/**
 * A throwaway RSA-3072 key for EC2 Instance Connect (which takes RSA and Ed25519, not ECDSA). The
 * private key is PKCS#1 PEM, which every OpenSSH reads; the public key is the RFC 4253 blob.
 */
export async function createEphemeralKey(): Promise<EphemeralKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-ssh-'));
  removeOnInterrupt(dir, 'the throwaway SSH key folder'); // removed by its connection otherwise
  const privateKeyFile = path.join(dir, 'id_rsa');
  await writeFileAtomic(privateKeyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  const jwk = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
  return {
    privateKeyFile,
    publicKey: openSshRsaPublicKey(Buffer.from(jwk.e, 'base64url'), Buffer.from(jwk.n, 'base64url')),
  };
}

export function openSshRsaPublicKey(e: Buffer, n: Buffer): string {
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshString(mpint(e)), sshString(mpint(n))]);
  return `ssh-rsa ${blob.toString('base64')} agentkeys`;
}

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

// RFC 4251 mpint: big-endian two's complement, so a leading high bit needs a zero byte.
function mpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
}
