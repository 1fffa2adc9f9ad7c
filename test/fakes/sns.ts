// Models: topics by ARN (CreateTopic idempotent by name, as AWS and moto), their subscriptions
// (an email one stays PendingConfirmation: nobody clicks the link), deletes of nothing succeed.
// Leaves out: publishing, delivery, topic attributes and policies.
import type { SetupSns } from '../../src/aws/setup-api.js';
import type { TopicSubscription } from '../../src/aws/sns.js';

export function fakeSns(account: string, region: string): SetupSns {
  const topics = new Map<string, TopicSubscription[]>();
  return {
    getTopic: async (arn) => (topics.has(arn) ? { arn } : undefined),
    createTopic: async (name) => {
      const arn = `arn:aws:sns:${region}:${account}:${name}`;
      if (!topics.has(arn)) topics.set(arn, []);
      return arn;
    },
    deleteTopic: async (arn) => void topics.delete(arn),
    listSubscriptions: async (arn) => [...(topics.get(arn) ?? [])],
    subscribe: async (arn, protocol, endpoint) => {
      const subs = topics.get(arn);
      if (!subs) throw new Error(`no topic ${arn} (fake NotFound)`);
      if (!subs.some((s) => s.protocol === protocol && s.endpoint === endpoint))
        subs.push({
          protocol,
          endpoint,
          arn: protocol === 'email' ? 'PendingConfirmation' : `${arn}:sub-${subs.length}`,
        });
    },
  };
}
