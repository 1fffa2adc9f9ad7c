// Issue 22 (part): requests an MCP client sends just before it closes stdin are still answered
// (and recorded) before the server exits. Raw JSON-RPC over stdio, a local secp256k1 key.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const rpc = (id: number | undefined, method: string, params: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method, params });

describe('agentkeys mcp at end of input', () => {
  it('answers every call read before stdin closed, and records each (schema-refused ones too)', async () => {
    const cwd = tempDir();
    expect((await runCli(['keys', 'create', '--local', '--alg', 'secp256k1', '--kid', 'evm-1'], { cwd })).code).toBe(0);
    writeFileSync(path.join(cwd, 'policy.json'), JSON.stringify({ version: 1, signMessage: true }));
    const input = [
      rpc(1, 'initialize', {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'eof-test', version: '1' },
      }),
      rpc(undefined, 'notifications/initialized'),
      rpc(2, 'tools/call', { name: 'sign_message', arguments: { message: 'hi' } }),
      rpc(3, 'tools/call', { name: 'get_address', arguments: {} }),
      // Arguments the tool's schema refuses: refused by the SDK (-32602), and recorded all the same.
      rpc(4, 'tools/call', { name: 'sign_message', arguments: { message: 5 } }),
    ].join('\n');
    const r = await runCli(['mcp', '--key-id', 'local:evm-1', '--policy', 'policy.json', '--audit-log', 'a.jsonl'], {
      cwd,
      input: `${input}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    const ids = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids.sort()).toEqual([1, 2, 3, 4]);
    const refused = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: number; result?: { isError?: boolean; content: { text: string }[] } })
      .find((m) => m.id === 4);
    // This SDK answers a schema refusal as a tool error carrying the -32602 text.
    expect(refused?.result?.isError).toBe(true);
    expect(refused?.result?.content[0]!.text).toContain('-32602');
    const events = readFileSync(path.join(cwd, 'a.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_type: string; payload: { decision: string; error?: string } });
    // The server's start and stop are in the chain too, around the calls.
    expect(events.map((e) => e.event_type)[0]).toBe('mcp.server_start');
    expect(events.map((e) => e.event_type).at(-1)).toBe('mcp.server_stop');
    expect(events.map((e) => e.event_type).sort()).toEqual([
      'mcp.get_address',
      'mcp.server_start',
      'mcp.server_stop',
      'mcp.sign_message',
      'mcp.sign_message',
    ]);
    expect(events.at(-1)!.payload).toMatchObject({ reason: 'end of input', calls: 2 });
    expect(events.filter((e) => e.payload.decision === 'failed').map((e) => e.payload.error)).toEqual([
      'MCP_ARGUMENT_INVALID',
    ]);
  });

  it('--expected-address: the server refuses to start on another key (exit 3), and starts on its own', async () => {
    const cwd = tempDir();
    await runCli(['keys', 'create', '--local', '--alg', 'secp256k1', '--kid', 'evm-1'], { cwd });
    const address = JSON.parse((await runCli(['--json', 'evm', 'address', '--key', 'local:evm-1'], { cwd })).stdout)
      .address as string;
    const other = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
    const wrong = await runCli(['mcp', '--key-id', 'local:evm-1', '--expected-address', other], { cwd });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('MCP_WRONG_KEY');
    const right = await runCli(['mcp', '--key-id', 'local:evm-1', '--expected-address', address.toLowerCase()], {
      cwd,
    });
    expect(right.code, right.stderr).toBe(0);
  });
});
