import {
  SESv2Client,
  CreateEmailIdentityCommand,
  DeleteEmailIdentityCommand,
  GetAccountCommand,
  GetEmailIdentityCommand,
} from '@aws-sdk/client-sesv2';
import {
  SESClient,
  CreateReceiptRuleCommand,
  CreateReceiptRuleSetCommand,
  DeleteReceiptRuleCommand,
  DeleteReceiptRuleSetCommand,
  DescribeActiveReceiptRuleSetCommand,
  DescribeReceiptRuleCommand,
  DescribeReceiptRuleSetCommand,
  SetActiveReceiptRuleSetCommand,
  UpdateReceiptRuleCommand,
  type ReceiptRule,
} from '@aws-sdk/client-ses';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

export type { ReceiptRule };

/** The SES (v2 identities, v1 receipt rules) calls agentkeys makes, and nothing else. */
/** SES v2 GetAccount: out of the sandbox or not, and the sending quota. */
export interface SendingAccount {
  productionAccess: boolean;
  sendingEnabled: boolean;
  enforcementStatus?: string;
  max24HourSend: number;
  sentLast24Hours: number;
}

export interface SesApi {
  getSendingAccount(): Promise<SendingAccount>;
  getEmailIdentity(
    name: string,
  ): Promise<{ verifiedForSending: boolean; dkimTokens: string[]; dkimStatus?: string } | undefined>;
  createEmailIdentity(name: string, dkim: boolean): Promise<void>;
  deleteEmailIdentity(name: string): Promise<void>;
  describeRuleSet(name: string): Promise<string[] | undefined>;
  createRuleSet(name: string): Promise<void>;
  describeRule(set: string, rule: string): Promise<ReceiptRule | undefined>;
  createRule(set: string, rule: ReceiptRule): Promise<void>;
  updateRule(set: string, rule: ReceiptRule): Promise<void>;
  deleteRule(set: string, rule: string): Promise<void>;
  activeRuleSet(): Promise<string | undefined>;
  setActiveRuleSet(name: string | undefined): Promise<void>;
  deleteRuleSet(name: string): Promise<void>;
}

export function createSesApi(ctx: AwsServiceContext): SesApi {
  const caller = ctx.caller;
  const sesv2 = observeCalls(new SESv2Client(ctx.config), 'sesv2', ctx.onCall);
  const ses = observeCalls(new SESClient(ctx.config), 'ses', ctx.onCall);
  return {
    getSendingAccount: () =>
      caller.call('ses:GetAccount', undefined, async () => {
        const out = await sesv2.send(new GetAccountCommand({}));
        return {
          productionAccess: out.ProductionAccessEnabled === true,
          sendingEnabled: out.SendingEnabled !== false,
          ...(out.EnforcementStatus ? { enforcementStatus: out.EnforcementStatus } : {}),
          max24HourSend: out.SendQuota?.Max24HourSend ?? 0,
          sentLast24Hours: out.SendQuota?.SentLast24Hours ?? 0,
        };
      }),
    getEmailIdentity: (name) =>
      caller.maybe('ses:GetEmailIdentity', name, async () => {
        const out = await sesv2.send(new GetEmailIdentityCommand({ EmailIdentity: name }));
        return {
          verifiedForSending: out.VerifiedForSendingStatus === true,
          dkimTokens: out.DkimAttributes?.Tokens ?? [],
          ...(out.DkimAttributes?.Status ? { dkimStatus: out.DkimAttributes.Status } : {}),
        };
      }),
    createEmailIdentity: (name, dkim) =>
      caller.call(
        'ses:CreateEmailIdentity',
        name,
        async () =>
          void (await sesv2.send(
            new CreateEmailIdentityCommand({
              EmailIdentity: name,
              ...(dkim ? { DkimSigningAttributes: { NextSigningKeyLength: 'RSA_2048_BIT' } } : {}),
            }),
          )),
      ),
    deleteEmailIdentity: (name) =>
      caller.gone(
        'ses:DeleteEmailIdentity',
        name,
        async () => void (await sesv2.send(new DeleteEmailIdentityCommand({ EmailIdentity: name }))),
      ),
    describeRuleSet: (name) =>
      caller.maybe('ses:DescribeReceiptRuleSet', name, async () =>
        ((await ses.send(new DescribeReceiptRuleSetCommand({ RuleSetName: name }))).Rules ?? []).map((r) => r.Name!),
      ),
    createRuleSet: (name) =>
      caller.call(
        'ses:CreateReceiptRuleSet',
        name,
        async () => void (await ses.send(new CreateReceiptRuleSetCommand({ RuleSetName: name }))),
      ),
    describeRule: (set, rule) =>
      caller.maybe(
        'ses:DescribeReceiptRule',
        rule,
        async () => (await ses.send(new DescribeReceiptRuleCommand({ RuleSetName: set, RuleName: rule }))).Rule,
      ),
    createRule: (set, rule) =>
      caller.eventually(
        'ses:CreateReceiptRule',
        rule.Name!,
        async () => void (await ses.send(new CreateReceiptRuleCommand({ RuleSetName: set, Rule: rule }))),
      ),
    updateRule: (set, rule) =>
      caller.call(
        'ses:UpdateReceiptRule',
        rule.Name!,
        async () => void (await ses.send(new UpdateReceiptRuleCommand({ RuleSetName: set, Rule: rule }))),
      ),
    deleteRule: (set, rule) =>
      caller.gone(
        'ses:DeleteReceiptRule',
        rule,
        async () => void (await ses.send(new DeleteReceiptRuleCommand({ RuleSetName: set, RuleName: rule }))),
      ),
    activeRuleSet: () =>
      caller.call(
        'ses:DescribeActiveReceiptRuleSet',
        undefined,
        async () => (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name,
      ),
    setActiveRuleSet: (name) =>
      caller.call(
        'ses:SetActiveReceiptRuleSet',
        name,
        async () => void (await ses.send(new SetActiveReceiptRuleSetCommand(name ? { RuleSetName: name } : {}))),
      ),
    deleteRuleSet: (name) =>
      caller.gone(
        'ses:DeleteReceiptRuleSet',
        name,
        async () => void (await ses.send(new DeleteReceiptRuleSetCommand({ RuleSetName: name }))),
      ),
  };
}
