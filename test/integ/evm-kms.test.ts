// EVM signing with a KMS ECC_SECG_P256K1 key on moto (with the launcher's DIGEST patch: unpatched
// moto hashes DIGEST messages again, see moto-deviation.test.ts), checked by viem as the oracle and
// broadcast to a real local Ethereum node (anvil).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseEther,
  parseTransaction,
  recoverTransactionAddress,
  verifyMessage,
  verifyTypedData,
  type Address,
  type Hex,
} from 'viem';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { createKmsApi, type KmsApi } from '../../src/aws/kms.js';
import {
  parseTransactionInput,
  parseTypedData,
  signMessageWith,
  signTransactionWith,
  signTypedDataWith,
} from '../../src/evm/operations.js';
import { clearEvmAddressCache, KmsEvmSigner } from '../../src/evm/signer.js';
import { useAnvil } from '../helpers/anvil.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';
import { PERMIT } from '../fixtures/evm.js';

const moto = useMoto();
const node = useAnvil();

const HALF_N = secp256k1.Point.Fn.ORDER >> 1n;
const RECIPIENT: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const cli = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  runCli(args, { cwd, env: { ...moto.current.env, ...env } });

async function secpKey(api: KmsApi): Promise<string> {
  return (await api.createKey({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' })).Arn!;
}

describe('KMS secp256k1 signer', () => {
  it('200 KMS signatures verify with viem; high-s ones are flipped to low-s', async () => {
    const api = createKmsApi({ region: 'us-east-1' });
    let highS = 0;
    const counting: KmsApi = {
      ...api,
      sign: async (input) => {
        const der = await api.sign(input);
        if (secp256k1.Signature.fromBytes(der, 'der').s > HALF_N) highS++;
        return der;
      },
    };
    const signer = await KmsEvmSigner.open(counting, await secpKey(api));
    for (let i = 0; i < 120; i++) {
      const message = `agentkeys message ${i}`;
      const { signature } = await signMessageWith(signer, message);
      expect(await verifyMessage({ address: signer.address, message, signature })).toBe(true);
      expect(BigInt(`0x${signature.slice(66, 130)}`) <= HALF_N).toBe(true);
    }
    for (let i = 0; i < 40; i++) {
      const doc = { ...PERMIT, message: { ...PERMIT.message, nonce: String(i) } };
      const { signature } = await signTypedDataWith(signer, parseTypedData(doc, 'permit'));
      expect(
        await verifyTypedData({ address: signer.address, ...(doc as object), signature } as Parameters<
          typeof verifyTypedData
        >[0]),
      ).toBe(true);
    }
    for (let i = 0; i < 40; i++) {
      const tx =
        i % 2
          ? { chainId: 31337, nonce: i, to: RECIPIENT, value: String(i), gas: 21000, gasPrice: '1000000000' }
          : {
              chainId: 31337,
              nonce: i,
              to: RECIPIENT,
              value: String(i),
              gas: 21000,
              maxFeePerGas: '2',
              maxPriorityFeePerGas: '1',
            };
      const { raw } = await signTransactionWith(signer, parseTransactionInput(tx, 'tx'));
      expect(parseTransaction(raw).nonce).toBe(i);
      expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(signer.address);
    }
    expect(highS).toBeGreaterThan(20); // about half of 200; 2^-200 odds of none
  });

  it('caches the address per key ARN: one GetPublicKey for many opens', async () => {
    clearEvmAddressCache();
    const calls: string[] = [];
    const api = createKmsApi({ region: 'us-east-1', onCall: (c) => calls.push(c.operation) });
    const arn = await secpKey(api);
    for (let i = 0; i < 3; i++) await KmsEvmSigner.open(api, arn);
    expect(calls.filter((c) => c === 'GetPublicKey')).toHaveLength(1);
  });

  it('refuses a key that is not secp256k1 (KEY_SPEC_UNSUPPORTED, exit 2, nothing on stdout)', async () => {
    const api = createKmsApi({ region: 'us-east-1' });
    const p256 = (await api.createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })).Arn!;
    await expect(KmsEvmSigner.open(api, p256)).rejects.toMatchObject({ code: 'KEY_SPEC_UNSUPPORTED' });
    const r = await cli(['evm', 'sign-message', '--key', `kms:${p256}`, '--message', 'x'], tempDir());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KEY_SPEC_UNSUPPORTED');
    expect(r.stdout).toBe('');
  });
});

describe('agentkeys evm against moto and anvil', () => {
  it('keys create --spec ECC_SECG_P256K1 prints the address that evm address and VAULT_KEY_ID give', async () => {
    const cwd = tempDir();
    const alias = `alias/vault-${process.pid}`;
    const created = await cli(['keys', 'create', '--spec', 'ECC_SECG_P256K1', '--alias', alias, '--json'], cwd);
    expect(created.code, created.stderr).toBe(0);
    const { address, keyArn } = JSON.parse(created.stdout) as { address: string; keyArn: string };
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const shown = await cli(['evm', 'address', '--key', `kms:${alias}`, '--json'], cwd);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      address,
      keyId: keyArn,
      publicKey: expect.stringMatching(/^0x04[0-9a-f]{128}$/),
    });
    const fromEnv = await cli(['evm', 'address'], cwd, {
      VAULT_KEY_ID: alias,
      VAULT_REGION: 'us-east-1',
      AWS_REGION: 'eu-west-1',
    });
    expect(fromEnv.stdout.trim()).toBe(address); // VAULT_REGION wins over AWS_REGION, as the seed says
  });

  it('broadcasts KMS-signed EIP-1559 and legacy transactions to anvil: mined, from our address, value arrives', async () => {
    const cwd = tempDir();
    const arn = await secpKey(createKmsApi({ region: 'us-east-1' }));
    const address = (await cli(['evm', 'address', '--key', `kms:${arn}`], cwd)).stdout.trim() as Address;
    await node.current.fund(address, parseEther('10'));
    const before = await node.current.public.getBalance({ address: RECIPIENT });
    const txs = [
      {
        chainId: node.current.chainId,
        nonce: 0,
        to: RECIPIENT,
        value: parseEther('1').toString(),
        gas: 21000,
        maxFeePerGas: '3000000000',
        maxPriorityFeePerGas: '1000000000',
      },
      {
        chainId: node.current.chainId,
        nonce: 1,
        to: RECIPIENT,
        value: parseEther('2').toString(),
        gas: 21000,
        gasPrice: '3000000000',
      },
    ];
    for (const [i, tx] of txs.entries()) {
      const file = path.join(cwd, `tx${i}.json`);
      writeFileSync(file, JSON.stringify(tx));
      const signed = await cli(['evm', 'sign-tx', '--key', `kms:${arn}`, '--tx', file], cwd);
      expect(signed.code, signed.stderr).toBe(0);
      const raw = signed.stdout.trim() as Hex;
      const hash = await node.current.public.sendRawTransaction({ serializedTransaction: raw });
      const receipt = await node.current.public.waitForTransactionReceipt({ hash });
      expect(receipt.status).toBe('success');
      expect(receipt.from.toLowerCase()).toBe(address.toLowerCase());
      expect((await node.current.public.getTransaction({ hash })).type).toBe(i === 0 ? 'eip1559' : 'legacy');
      const verified = await cli(['evm', 'verify', '--address', address, '--tx', raw], cwd);
      expect(verified.code).toBe(0);
    }
    expect(await node.current.public.getBalance({ address: RECIPIENT })).toBe(before + parseEther('3'));
  });

  it('sign-message and sign-typed-data output verifies; evm verify exits 3 for another address', async () => {
    const cwd = tempDir();
    const arn = await secpKey(createKmsApi({ region: 'us-east-1' }));
    const address = (await cli(['evm', 'address', '--key', `kms:${arn}`], cwd)).stdout.trim();
    const sig = (await cli(['evm', 'sign-message', '--key', `kms:${arn}`, '--message', 'gm'], cwd)).stdout.trim();
    expect((await cli(['evm', 'verify', '--address', address, '--signature', sig, '--message', 'gm'], cwd)).code).toBe(
      0,
    );
    const other = await cli(['evm', 'verify', '--address', RECIPIENT, '--signature', sig, '--message', 'gm'], cwd);
    expect(other.code).toBe(3);
    expect(other.stderr).toContain('EVM_SIGNATURE_MISMATCH');
    const data = path.join(cwd, 'permit.json');
    writeFileSync(data, JSON.stringify(PERMIT));
    const typed = JSON.parse(
      (await cli(['evm', 'sign-typed-data', '--key', `kms:${arn}`, '--data', data, '--json'], cwd)).stdout,
    ) as { signature: Hex };
    expect(
      await verifyTypedData({
        address: address as Address,
        ...(PERMIT as object),
        signature: typed.signature,
      } as Parameters<typeof verifyTypedData>[0]),
    ).toBe(true);
    expect(
      (await cli(['evm', 'verify', '--address', address, '--signature', typed.signature, '--data', data], cwd)).code,
    ).toBe(0);
  });

  it('bad input: missing chainId and malformed typed data are named errors, nothing signed', async () => {
    const cwd = tempDir();
    const arn = await secpKey(createKmsApi({ region: 'us-east-1' }));
    const tx = path.join(cwd, 'tx.json');
    writeFileSync(tx, JSON.stringify({ nonce: 0, to: RECIPIENT, gas: 21000, gasPrice: '1' }));
    const a = await cli(['evm', 'sign-tx', '--key', `kms:${arn}`, '--tx', tx, '--json'], cwd);
    expect(a.code).toBe(2);
    expect(JSON.parse(a.stdout)).toMatchObject({ ok: false, error: { code: 'EVM_CHAIN_ID_MISSING' } });
    const data = path.join(cwd, 'bad.json');
    writeFileSync(data, JSON.stringify({ ...PERMIT, primaryType: 'Missing' }));
    const b = await cli(['evm', 'sign-typed-data', '--key', `kms:${arn}`, '--data', data], cwd);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('EVM_TYPED_DATA_INVALID');
    expect(b.stdout).toBe('');
  });
});
