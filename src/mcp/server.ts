// The MCP face of the vault: tool names, descriptions and argument schemas. Results are JSON text;
// refusals and failures are tool errors (isError), never a crash of the server.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolName, ToolResult, Vault } from './vault.js';

const jsonObject = z.union([z.record(z.unknown()), z.string()]);
const quote = z
  .object({ amountOut: z.string().optional(), amountIn: z.string().optional() })
  .strict()
  .optional()
  .describe('for a Uniswap swap: the quoted amount out (exact input) or in (exact output), in base units');

interface ToolSpec {
  name: ToolName;
  description: string;
  shape: z.ZodRawShape;
  readOnly: boolean;
  /** Listed only when the server has a node (--rpc-url) or may broadcast (--allow-send). */
  needs?: 'rpc' | 'send';
}

const TOOLS: ToolSpec[] = [
  { name: 'get_address', description: 'The EIP-55 address of the signing key.', shape: {}, readOnly: true },
  {
    name: 'health_check',
    description: 'Whether the signing key is reachable and enabled, and which policy is in force.',
    shape: {},
    readOnly: true,
  },
  {
    name: 'sign_message',
    description: 'EIP-191 personal_sign of a text message (or 0x hex bytes), if the policy allows it.',
    shape: { message: z.string() },
    readOnly: false,
  },
  {
    name: 'sign_typed_data',
    description:
      'EIP-712 signature of {domain, types, primaryType, message}, if the policy allows the domain and deadline.',
    shape: { typedData: jsonObject },
    readOnly: false,
  },
  {
    name: 'sign_transaction',
    description:
      'Signs a transaction (chainId required; EIP-1559, or legacy with gasPrice) ' +
      'and returns the raw transaction, if the policy allows chain, recipient, ' +
      'decoded calldata, value and fees.',
    shape: { transaction: jsonObject, quote },
    readOnly: false,
  },
  {
    name: 'simulate',
    description:
      'Dry run: what the policy would decide for a transaction, typedData or message, the rule that ' +
      'would refuse it, and the decoded calldata. Nothing is signed; the call is recorded.',
    shape: {
      transaction: jsonObject.optional(),
      typedData: jsonObject.optional(),
      message: z.string().optional(),
      quote,
    },
    readOnly: true,
  },
  {
    name: 'get_balance',
    description: "The native balance (or an ERC-20 token's, with token) of an address, by default the signer's.",
    shape: { address: z.string().optional(), token: z.string().optional() },
    readOnly: true,
    needs: 'rpc',
  },
  {
    name: 'send_transaction',
    description:
      'sign_transaction under the same policy, then broadcasts the signed transaction to the node once ' +
      'its decision is in the audit chain.',
    shape: { transaction: jsonObject, quote },
    readOnly: false,
    needs: 'send',
  },
  {
    name: 'verify_signature',
    description: 'Checks that a signature over a message, typed data or a raw transaction was made by an address.',
    shape: {
      address: z.string(),
      signature: z.string().optional(),
      message: z.string().optional(),
      typedData: jsonObject.optional(),
      rawTransaction: z.string().optional(),
    },
    readOnly: true,
  },
  {
    name: 'verify_audit',
    description: "Verifies this server's audit chain: every decision, digest and signature hash, offline.",
    shape: {},
    readOnly: true,
  },
];

export function createMcpServer(
  vault: Vault,
  version: string,
  enabled: { rpc?: boolean; send?: boolean } = {},
): McpServer {
  const server = new McpServer({ name: 'agentkeys', version });
  recordSchemaRefusals(server, vault);
  for (const tool of listedTools(enabled)) {
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: tool.shape, annotations: { readOnlyHint: tool.readOnly } },
      async (args: Record<string, unknown>) => {
        const client = server.server.getClientVersion();
        return toCallResult(
          await vault.call(tool.name, args ?? {}, client ? `${client.name}/${client.version}` : 'unknown'),
        );
      },
    );
  }
  return server;
}

export function listedTools(enabled: { rpc?: boolean; send?: boolean }): ToolSpec[] {
  return TOOLS.filter((t) => !t.needs || enabled[t.needs]);
}

const TOOL_NAMES = new Set<string>(TOOLS.map((t) => t.name));

/**
 * The SDK checks a call's arguments against the tool's schema and answers -32602 before any tool
 * runs, so such calls never reached the chain. Its check (McpServer's validateToolInput, a
 * private method in its types) is wrapped to record each refusal first; test/cli/mcp-eof.test.ts
 * fails if an SDK update moves it.
 */
function recordSchemaRefusals(server: McpServer, vault: Vault): void {
  type Validate = (tool: unknown, args: unknown, name: string) => Promise<unknown>;
  const target = server as unknown as { validateToolInput?: Validate };
  const original = target.validateToolInput?.bind(server);
  if (!original) return;
  target.validateToolInput = async (tool, args, name) => {
    try {
      return await original(tool, args, name);
    } catch (err) {
      if (TOOL_NAMES.has(name)) {
        const client = server.server.getClientVersion();
        await vault.recordRefusedInput(name as ToolName, args, client ? `${client.name}/${client.version}` : 'unknown');
      }
      throw err;
    }
  };
}

function toCallResult(result: ToolResult): { content: { type: 'text'; text: string }[]; isError?: boolean } {
  if (result.ok) return { content: [{ type: 'text', text: JSON.stringify(result.value) }] };
  const { ok: _ok, ...error } = result;
  return { content: [{ type: 'text', text: JSON.stringify({ error }) }], isError: true };
}
