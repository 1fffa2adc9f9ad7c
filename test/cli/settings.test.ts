// Seed 000's verifier-registry and key settings that agentkeys used to ignore: the registry inline
// (KERNEL_PUBLIC_KEYS_JSON) or by https URL (KERNEL_PUBLIC_KEYS_URL), the signing key by https URL
// (AUDIT_SIGNING_KEY_URL). The URLs are served by a real HTTPS server on loopback whose CA the CLI
// trusts through NODE_EXTRA_CA_CERTS.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startIssuer, type Issuer } from '../helpers/tls-issuer.js';
import { tempDir } from '../helpers/tmp.js';

let server: Issuer;
beforeAll(async () => void (server = await startIssuer()));
afterAll(async () => server?.close());

async function signedLog(): Promise<{ cwd: string; registry: string }> {
  const cwd = tempDir();
  expect((await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd })).code).toBe(0);
  const sign = await runCli(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'], {
    cwd,
  });
  expect(sign.code, sign.stderr).toBe(0);
  return { cwd, registry: readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8') };
}

// Elsewhere than the default registry path, so only the setting can make verification pass.
const verify = (cwd: string, env: Record<string, string>) =>
  runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], {
    cwd,
    env: { AGENTKEYS_DIR: path.join(cwd, 'elsewhere'), ...env },
  });

describe('verifier registry settings', () => {
  it('KERNEL_PUBLIC_KEYS_JSON verifies with the registry given inline', async () => {
    const { cwd, registry } = await signedLog();
    expect((await verify(cwd, {})).code).not.toBe(0);
    const r = await verify(cwd, { KERNEL_PUBLIC_KEYS_JSON: registry });
    expect(r.code, r.stdout).toBe(0);
  });

  it('KERNEL_PUBLIC_KEYS_URL: fetched over https; http is refused; an unreachable one is a named error', async () => {
    const { cwd, registry } = await signedLog();
    server.state.files['/signers.json'] = registry;
    const ok = await verify(cwd, {
      KERNEL_PUBLIC_KEYS_URL: `${server.url}/signers.json`,
      NODE_EXTRA_CA_CERTS: server.caFile,
    });
    expect(ok.code, ok.stdout).toBe(0);
    const http = await verify(cwd, { KERNEL_PUBLIC_KEYS_URL: 'http://127.0.0.1:9/signers.json' });
    expect([http.code, JSON.parse(http.stdout).error.code]).toEqual([2, 'SETTING_URL_INVALID']);
    const down = await verify(cwd, { KERNEL_PUBLIC_KEYS_URL: 'https://127.0.0.1:9/signers.json' });
    expect([down.code, JSON.parse(down.stdout).error.code]).toEqual([2, 'SETTING_URL_UNREACHABLE']);
    const missing = await verify(cwd, {
      KERNEL_PUBLIC_KEYS_URL: `${server.url}/nope.json`,
      NODE_EXTRA_CA_CERTS: server.caFile,
    });
    expect(JSON.parse(missing.stdout).error).toMatchObject({ code: 'SETTING_URL_UNREACHABLE', message: /HTTP 404/ });
    server.state.files['/big.json'] = 'x'.repeat((1 << 20) + 1);
    const big = await verify(cwd, {
      KERNEL_PUBLIC_KEYS_URL: `${server.url}/big.json`,
      NODE_EXTRA_CA_CERTS: server.caFile,
    });
    expect(JSON.parse(big.stdout).error.code).toBe('SETTING_URL_TOO_LARGE');
    // A server dripping a byte every 300 ms never trips an idle timeout; the 5 s deadline holds.
    const started = Date.now();
    const drip = await verify(cwd, {
      KERNEL_PUBLIC_KEYS_URL: `${server.url}/drip`,
      NODE_EXTRA_CA_CERTS: server.caFile,
    });
    expect(JSON.parse(drip.stdout).error).toMatchObject({
      code: 'SETTING_URL_UNREACHABLE',
      message: /no complete answer/,
    });
    expect(Date.now() - started).toBeLessThan(30_000); // a bound on a hang, not a timing assertion
  }, 60_000);
});

describe('AUDIT_SIGNING_KEY_URL', () => {
  it('signs with a PEM fetched over https (never written to disk); REQUIRE_KMS=true refuses it', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'url-key'], { cwd });
    server.state.files['/audit_signing_key'] = readFileSync(path.join(cwd, '.agentkeys/keys/url-key.pem'), 'utf8');
    const env = {
      AUDIT_SIGNING_KEY_URL: `${server.url}/audit_signing_key`,
      AUDIT_SIGNER_KID: 'url-key',
      NODE_EXTRA_CA_CERTS: server.caFile,
    };
    const args = ['sign', '--log', 'b.jsonl', '--event-type', 't', '--payload', '{}'];
    const signed = await runCli(args, { cwd, env });
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(cwd, 'b.jsonl'), 'utf8').split('\n')[0]!).signer_kid).toBe('url-key');
    expect((await runCli(['verify-audit', '--log', 'b.jsonl'], { cwd })).code).toBe(0);
    const refused = await runCli(['--json', ...args], { cwd, env: { ...env, REQUIRE_KMS: 'true' } });
    expect(JSON.parse(refused.stdout).error.code).toBe('LOCAL_KEY_REFUSED');
  });
});
