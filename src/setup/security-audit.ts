// Seed 004 §7: what makes a grant over-broad. Kept apart from the step so doctor can ask the same
// question read-only, and so the rule is tested on documents directly.

type Statement = { Effect?: string; Action?: unknown; NotAction?: unknown; Resource?: unknown; NotResource?: unknown };

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

// Actions with no resource-level permissions in IAM: `Resource: "*"` is the only way to grant them.
const RESOURCELESS = /^(ec2:Describe[A-Za-z]*|sts:GetCallerIdentity|ses:GetAccount|kms:ListAliases)$/;

/** Why one statement is over-broad, or undefined when it is not. */
export function broadReason(st: Statement): string | undefined {
  if (st.Effect !== 'Allow') return undefined;
  if (st.NotAction !== undefined) return 'Allow with NotAction (everything but a list)';
  const actions = list(st.Action);
  const wild = actions.find((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a));
  if (wild) return `Action "${wild}"`;
  if (st.NotResource !== undefined) return 'Allow with NotResource';
  if (list(st.Resource).includes('*') && !actions.every((a) => RESOURCELESS.test(a)))
    return `Resource "*" for ${actions.filter((a) => !RESOURCELESS.test(a)).join(', ')}`;
  return undefined;
}

/** The reasons a policy document is over-broad (empty when it is least privilege). */
export function broadReasons(document: string | undefined): string[] {
  if (!document) return [];
  let parsed: { Statement?: unknown };
  try {
    parsed = JSON.parse(document) as { Statement?: unknown };
  } catch {
    return ['the document is not JSON'];
  }
  const statements = (Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement]) as Statement[];
  return [...new Set(statements.filter(Boolean).flatMap((s) => broadReason(s) ?? []))];
}

/** AWS managed policies that are broad by name, whatever their current version says. */
export function broadByName(policyArn: string): string | undefined {
  const name = policyArn.split('/').pop() ?? policyArn;
  if (/^(AdministratorAccess|PowerUserAccess)$/.test(name) || /FullAccess$/.test(name))
    return `${name} (AWS managed, full access)`;
  return undefined;
}
