// Models: email identities (never verified, no DKIM tokens: as moto, so steps 5, 6 and 9 wait);
// receipt rule sets holding named rules; one active rule set per account.
// Leaves out: sending, verification mails, rule ordering, the 'verified' transition.
import type { ReceiptRule, SesApi } from '../../src/aws/ses.js';
import { AgentkeysError } from '../../src/errors.js';
import { conflict } from './account.js';

export function fakeSes(): SesApi {
  const identities = new Set<string>();
  const sets = new Map<string, Map<string, ReceiptRule>>();
  let active: string | undefined;
  const set = (name: string) => {
    const s = sets.get(name);
    if (!s)
      throw new AgentkeysError({ code: 'AWS_CALL_FAILED', message: `no rule set ${name} (fake RuleSetDoesNotExist)` });
    return s;
  };
  return {
    // A new account: in the SES sandbox, 200 mails a day, as moto's GetAccount (the launcher's patch).
    getSendingAccount: async () => ({
      productionAccess: false,
      sendingEnabled: true,
      enforcementStatus: 'HEALTHY',
      max24HourSend: 200,
      sentLast24Hours: 0,
    }),
    getEmailIdentity: async (name) =>
      identities.has(name) ? { verifiedForSending: false, dkimTokens: [] } : undefined,
    createEmailIdentity: async (name) => {
      if (identities.has(name)) throw conflict(`SES identity ${name}`);
      identities.add(name);
    },
    deleteEmailIdentity: async (name) => void identities.delete(name),
    describeRuleSet: async (name) => (sets.has(name) ? [...sets.get(name)!.keys()] : undefined),
    createRuleSet: async (name) => {
      if (sets.has(name)) throw conflict(`rule set ${name}`);
      sets.set(name, new Map());
    },
    describeRule: async (s, rule) => structuredClone(sets.get(s)?.get(rule)),
    createRule: async (s, rule) => {
      if (set(s).has(rule.Name!)) throw conflict(`rule ${rule.Name}`);
      set(s).set(rule.Name!, structuredClone(rule));
    },
    updateRule: async (s, rule) => void set(s).set(rule.Name!, structuredClone(rule)),
    deleteRule: async (s, rule) => void sets.get(s)?.delete(rule),
    activeRuleSet: async () => active,
    setActiveRuleSet: async (name) => void (active = name),
    deleteRuleSet: async (name) => {
      if (active === name)
        throw new AgentkeysError({
          code: 'AWS_CALL_FAILED',
          message: `rule set ${name} is active (fake CannotDelete)`,
        });
      sets.delete(name);
    },
  };
}
