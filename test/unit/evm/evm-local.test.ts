// EVM signing with a local secp256k1 key, checked against viem's own verification as the oracle.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTransaction, recoverTransactionAddress, verifyMessage, verifyTypedData, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  parseMessage,
  parseTransactionInput,
  parseTypedData,
  signMessageWith,
  signTransactionWith,
  signTypedDataWith,
  verifyEvmSignature,
} from '../../../src/evm/operations.js';
import { isLowS } from '../../../src/evm/secp256k1.js';
import { LocalEvmSigner, openEvmSigner } from '../../../src/evm/signer.js';
import { tempDir } from '../../helpers/tmp.js';
import { PERMIT } from '../../fixtures/evm.js';

function keyFile(dir: string, curve = 'secp256k1'): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const file = path.join(dir, `k-${curve}.pem`);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}

describe('local secp256k1 signer (file:)', () => {
  it('has the address viem derives from the same private key', async () => {
    const dir = tempDir();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const file = path.join(dir, 'k.pem');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const signer = await LocalEvmSigner.fromFile(file);
    expect(signer.address).toBe(privateKeyToAccount(`0x${d.toString('hex')}`).address);
  });

  it('EIP-191, EIP-712 and transactions verify with viem', async () => {
    const signer = await openEvmSigner(`file:${keyFile(tempDir())}`, () => {
      throw new Error('no KMS');
    });
    for (const text of ['hello', '', 'ünïcödé ✓', '0xdeadbeef']) {
      const message = parseMessage(text);
      const { signature } = await signMessageWith(signer, message);
      expect(signature).toMatch(/^0x[0-9a-f]{130}$/);
      expect(['1b', '1c']).toContain(signature.slice(-2)); // v is 27 or 28
      expect(await verifyMessage({ address: signer.address, message, signature })).toBe(true);
    }
    const data = parseTypedData(PERMIT, 'permit');
    const { signature } = await signTypedDataWith(signer, data);
    expect(
      await verifyTypedData({ address: signer.address, ...(PERMIT as object), signature } as Parameters<
        typeof verifyTypedData
      >[0]),
    ).toBe(true);
    for (const tx of [
      {
        chainId: 1,
        nonce: 7,
        to: PERMIT.message.spender,
        value: '1000',
        gas: 21000,
        maxFeePerGas: '30000000000',
        maxPriorityFeePerGas: '1000000000',
      },
      { chainId: 1, nonce: 7, to: PERMIT.message.spender, value: '0x10', gas: '21000', gasPrice: '20000000000' },
      {
        chainId: 5,
        nonce: 1,
        to: PERMIT.message.spender,
        gas: 30000,
        gasPrice: '1',
        accessList: [{ address: PERMIT.message.owner, storageKeys: [`0x${'00'.repeat(31)}01`] }],
      },
    ]) {
      const { raw } = await signTransactionWith(signer, parseTransactionInput(tx, 'tx'));
      const parsed = parseTransaction(raw);
      expect(parsed.chainId).toBe(tx.chainId);
      expect(await recoverTransactionAddress({ serializedTransaction: raw as never })).toBe(signer.address);
    }
  });

  it('picks the transaction type from the fields: EIP-1559, legacy EIP-155, EIP-2930', () => {
    const base = { chainId: 1, nonce: 0, to: PERMIT.message.owner, gas: 21000 };
    expect(parseTransactionInput({ ...base, maxFeePerGas: 2, maxPriorityFeePerGas: 1 }, 't').type).toBe('eip1559');
    expect(parseTransactionInput({ ...base, gasPrice: 2 }, 't').type).toBe('legacy');
    expect(parseTransactionInput({ ...base, gasPrice: 2, accessList: [] }, 't').type).toBe('eip2930');
  });

  it('signatures are low-s (EIP-2) every time', async () => {
    const signer = await LocalEvmSigner.fromFile(keyFile(tempDir()));
    for (let i = 0; i < 20; i++) {
      const s = await signer.signHash(`0x${i.toString(16).padStart(64, '0')}` as Hex);
      expect(isLowS(s.s)).toBe(true);
    }
  });

  it('verifyEvmSignature: the right address passes, another is EVM_SIGNATURE_MISMATCH (exit 3)', async () => {
    const signer = await LocalEvmSigner.fromFile(keyFile(tempDir()));
    const { signature } = await signMessageWith(signer, 'hi');
    await expect(verifyEvmSignature(signer.address, { message: 'hi' }, signature)).resolves.toBe(signer.address);
    await expect(verifyEvmSignature(PERMIT.message.owner as never, { message: 'hi' }, signature)).rejects.toMatchObject(
      { code: 'EVM_SIGNATURE_MISMATCH', exitCode: 3 },
    );
    await expect(verifyEvmSignature(signer.address, { message: 'hi' }, '0x12' as Hex)).rejects.toMatchObject({
      code: 'EVM_SIGNATURE_FORMAT',
    });
  });
});

describe('bad input is a named error before anything is signed', () => {
  it('a non-secp256k1 key is KEY_SPEC_UNSUPPORTED', async () => {
    await expect(LocalEvmSigner.fromFile(keyFile(tempDir(), 'prime256v1'))).rejects.toMatchObject({
      code: 'KEY_SPEC_UNSUPPORTED',
    });
  });

  it('transactions: missing chainId, unknown field, bad quantity, missing gas', () => {
    const ok = { chainId: 1, nonce: 0, to: PERMIT.message.owner, gas: 21000, maxFeePerGas: 2, maxPriorityFeePerGas: 1 };
    const { chainId: _c, ...noChain } = ok;
    expect(() => parseTransactionInput(noChain, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_CHAIN_ID_MISSING' }),
    );
    expect(() => parseTransactionInput({ ...ok, chainID: 1 }, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_TX_INVALID' }),
    );
    expect(() => parseTransactionInput({ ...ok, value: '-1' }, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_TX_INVALID' }),
    );
    expect(() => parseTransactionInput({ ...ok, value: 1e30 }, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_TX_INVALID' }),
    );
    expect(() => parseTransactionInput({ ...ok, chainId: 0 }, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_TX_INVALID' }),
    );
    const { gas: _g, ...noGas } = ok;
    expect(() => parseTransactionInput(noGas, 't')).toThrow(expect.objectContaining({ code: 'EVM_TX_FIELD_MISSING' }));
    expect(() => parseTransactionInput({ ...ok, to: '0x1234' }, 't')).toThrow(
      expect.objectContaining({ code: 'EVM_ADDRESS_INVALID' }),
    );
  });

  it('typed data: missing parts, unknown fields, wrong types, values that do not fit', () => {
    const bad = (doc: unknown) => () => parseTypedData(doc, 'doc');
    const code = expect.objectContaining({ code: 'EVM_TYPED_DATA_INVALID' });
    expect(bad([])).toThrow(code);
    expect(bad({ ...PERMIT, extra: 1 })).toThrow(code);
    const { message: _m, ...noMessage } = PERMIT;
    expect(bad(noMessage)).toThrow(code);
    expect(bad({ ...PERMIT, primaryType: 'Nope' })).toThrow(code);
    expect(bad({ ...PERMIT, message: { ...PERMIT.message, owner: 'not-an-address' } })).toThrow(code);
    expect(bad({ ...PERMIT, message: { ...PERMIT.message, value: 'abc' } })).toThrow(code);
    expect(bad({ ...PERMIT, types: { Permit: [{ name: 'x', type: 'uint257' }] } })).toThrow(code);
  });

  it('messages: 0x that is not whole bytes of hex', () => {
    expect(() => parseMessage('0x123')).toThrow(expect.objectContaining({ code: 'EVM_MESSAGE_INVALID' }));
    expect(() => parseMessage('0xzz')).toThrow(expect.objectContaining({ code: 'EVM_MESSAGE_INVALID' }));
    expect(parseMessage('0xabcd')).toEqual({ raw: '0xabcd' });
  });
});
