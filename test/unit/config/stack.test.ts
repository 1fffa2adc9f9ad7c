// The stack's env files, parsed once into a typed record (issue 25): every problem of both files
// in one STACK_CONFIG_INVALID, each naming its file, key and value; defaults typed (numbers, lists).
import { copyFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStack } from '../../../src/config/stack.js';
import { tempDir } from '../../helpers/tmp.js';

function envDir(extraOperator = '', broker = ''): string {
  const dir = tempDir();
  copyFileSync(path.join('env', 'operator-workstation.test.env'), path.join(dir, 'operator-workstation.test.env'));
  writeFileSync(path.join(dir, 'operator-workstation.test.env'), `\n${extraOperator}\n`, { flag: 'a' });
  writeFileSync(path.join(dir, 'broker.test.env'), broker);
  return dir;
}

describe('loadStack', () => {
  it('reads the example test stack into typed values', async () => {
    const stack = await loadStack({ test: true, envDir: envDir() });
    expect(stack.name).toBe('test');
    expect(stack.witness.retentionDays).toBe(365);
    expect(stack.auditSignerRoles).toEqual(['agentkeys-broker-host-test']);
    expect(stack.evmSigner).toBeUndefined();
    expect(stack.hosts.length).toBe(9);
  });

  it('lists every problem of both files at once, with file, key and value', async () => {
    const dir = envDir(
      "ACCOUNT_ID=12345\nZONE=\nWITNESS_RETENTION_DAYS=forever\nAUDIT_SIGNER_ROLES='ok,bad role'\nEVM_SIGNER=maybe",
      'INSTANCE_ID=x-1\nEIP=300.1\n',
    );
    const err = await loadStack({ test: true, envDir: dir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STACK_CONFIG_INVALID' });
    const details = (err as { details: string[] }).details.join('\n');
    for (const expected of [
      'ACCOUNT_ID "12345" is not 12 digits',
      'ZONE is required',
      'WITNESS_RETENTION_DAYS "forever" is not a number of days',
      'AUDIT_SIGNER_ROLES "ok,bad role" names a role that is not an IAM role name',
      'EVM_SIGNER "maybe" is not true or false',
      'INSTANCE_ID "x-1" is not an EC2 instance id',
      'EIP "300.1" is not an IPv4 address',
    ])
      expect(details).toContain(expected);
  });

  it('a missing stack env file names it and the flag that exists on setup (--stack-env), not --env-file', async () => {
    const dir = tempDir();
    const err = await loadStack({ test: true, envDir: dir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENV_FILE_NOT_FOUND' });
    const { hint } = err as { hint: string };
    expect(hint).toContain(path.join(dir, 'operator-workstation.test.env'));
    expect(hint).toContain('--stack-env');
    expect(hint).not.toContain('--env-file');
  });

  it('turns EVM_SIGNER and AUDIT_SIGNER_ROLES into a flag and a list', async () => {
    const stack = await loadStack({
      test: true,
      envDir: envDir("EVM_SIGNER=yes\nAUDIT_SIGNER_ROLES=' a-test , b-test '"),
    });
    expect(stack.evmSigner?.alias).toBe('alias/agentkeys-evm-test');
    expect(stack.auditSignerRoles).toEqual(['a-test', 'b-test']);
  });
});
