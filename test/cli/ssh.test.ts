import { chmodSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSsh } from '../../src/ssh/connect-plan.js';
import { openSshRsaPublicKey } from '../../src/ssh/ephemeral-key.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

describe('ssh connect plan', () => {
  const base = {
    stack: 'test' as const,
    brokerEnvFile: 'env/broker.test.env',
    instanceId: 'i-0123456789abcdef0',
    eip: '3.214.219.209',
    fallback: false,
    command: [],
    controlDir: '/home/op/.agentkeys/ssh',
  };

  it('defaults to EC2 Instance Connect as agentkey, multiplexed, with the remote command after --', () => {
    const plan = planSsh({ ...base, command: ['echo', '-n', 'hi'] });
    expect(plan).toMatchObject({
      mode: 'instance-connect',
      user: 'agentkey',
      host: '3.214.219.209',
      instanceId: 'i-0123456789abcdef0',
    });
    expect(plan.args).toEqual([
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ControlMaster=auto',
      '-o',
      'ControlPath=/home/op/.agentkeys/ssh/%C',
      '-o',
      'ControlPersist=10m',
      '-o',
      'UserKnownHostsFile=/home/op/.agentkeys/ssh/known_hosts',
      '-o',
      'StrictHostKeyChecking=accept-new',
      'agentkey@3.214.219.209',
      '--',
      'echo',
      '-n',
      'hi',
    ]);
  });

  it('--fallback uses the .pem as ubuntu', () => {
    const plan = planSsh({ ...base, fallback: true, pem: '/k.pem' });
    expect(plan).toMatchObject({ mode: 'pem', user: 'ubuntu' });
    expect(plan.args.slice(0, 2)).toEqual(['-i', '/k.pem']);
  });

  it('names what is missing', () => {
    expect(() => planSsh({ ...base, instanceId: undefined as never })).toThrow(
      expect.objectContaining({ code: 'SSH_INSTANCE_MISSING' }),
    );
    expect(() => planSsh({ ...base, eip: undefined as never })).toThrow(
      expect.objectContaining({ code: 'SSH_EIP_MISSING' }),
    );
    expect(() => planSsh({ ...base, fallback: true })).toThrow(expect.objectContaining({ code: 'SSH_PEM_MISSING' }));
  });

  it('writes the RFC 4253 ssh-rsa public key blob', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
    const line = openSshRsaPublicKey(Buffer.from(jwk.e, 'base64url'), Buffer.from(jwk.n, 'base64url'));
    const blob = Buffer.from(line.split(' ')[1]!, 'base64');
    const fields: Buffer[] = [];
    for (let o = 0; o < blob.length;) {
      const len = blob.readUInt32BE(o);
      fields.push(blob.subarray(o + 4, o + 4 + len));
      o += 4 + len;
    }
    expect(fields[0]!.toString()).toBe('ssh-rsa');
    const n = fields[2]!;
    expect(n[0]).toBe(0); // mpint: the high bit of the modulus needs a leading zero byte
    expect(
      createPublicKey({
        key: { kty: 'RSA', e: fields[1]!.toString('base64url'), n: n.subarray(1).toString('base64url') },
        format: 'jwk',
      }).export({ type: 'spki', format: 'pem' }),
    ).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
  });
});

describe('agentkeys ssh', () => {
  // moto deviation (aws-and-moto.md §1): SendSSHPublicKey always succeeds, even for an unknown
  // instance. A fake `ssh` records its arguments, so no connection is ever attempted.
  it('pushes a key with Instance Connect, runs ssh with the remote command and returns its exit code', async () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'env'));
    writeFileSync(
      path.join(cwd, 'env/broker.test.env'),
      'INSTANCE_ID=i-0123456789abcdef0\nEIP=127.0.0.9\nBROKER_AWS_REGION=us-east-1\n',
    );
    const fake = path.join(cwd, 'fake-ssh');
    writeFileSync(
      fake,
      `#!/bin/sh\nif [ "$1" = "-O" ]; then exit 255; fi\nprintf '%s\\n' "$@" > ${cwd}/ssh-args\ntest -f "$2" && echo key-present >> ${cwd}/ssh-args\nexit 7\n`,
    );
    chmodSync(fake, 0o755);
    const r = await runCli(['ssh', 'test', '--', 'echo', 'hi'], {
      cwd,
      env: { ...moto.current.env, AGENTKEYS_SSH_BINARY: fake },
    });
    expect(r.code).toBe(7);
    const args = readFileSync(path.join(cwd, 'ssh-args'), 'utf8').trim().split('\n');
    expect(args[0]).toBe('-i');
    expect(args).toContain('agentkey@127.0.0.9');
    expect(args.slice(args.indexOf('--'))).toEqual(['--', 'echo', 'hi', 'key-present']);
    expect(r.stderr).toMatch(/EC2 Instance Connect to i-0123456789abcdef0 as agentkey/);
  });

  it('without INSTANCE_ID says where to paste it (exit 2)', async () => {
    const cwd = tempDir();
    mkdirSync(path.join(cwd, 'env'));
    writeFileSync(path.join(cwd, 'env/broker.env'), 'EIP=127.0.0.9\n');
    const r = await runCli(['--json', 'ssh'], { cwd, env: moto.current.env });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'SSH_INSTANCE_MISSING',
      hint: expect.stringContaining('env/broker.env'),
    });
  });
});
