import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

export interface TopicSubscription {
  protocol: string;
  endpoint: string;
  /** 'PendingConfirmation' until the address confirms (email), else the subscription's ARN. */
  arn: string;
}

/** The SNS calls agentkeys makes: the alert topic setup keeps, and the alerts themselves. */
export interface SnsApi {
  getTopic(arn: string): Promise<{ arn: string } | undefined>;
  /** CreateTopic is idempotent by name in AWS: the existing topic's ARN comes back. */
  createTopic(name: string): Promise<string>;
  deleteTopic(arn: string): Promise<void>;
  listSubscriptions(topicArn: string): Promise<TopicSubscription[]>;
  subscribe(topicArn: string, protocol: 'email' | 'https' | 'http', endpoint: string): Promise<void>;
  publish(topicArn: string, subject: string, message: string): Promise<string>;
}

export function createSnsApi(ctx: AwsServiceContext): SnsApi {
  const caller = ctx.caller;
  const sns = observeCalls(new SNSClient(ctx.config), 'sns', ctx.onCall);
  return {
    getTopic: async (arn) =>
      (await caller.maybe('sns:GetTopicAttributes', arn, () =>
        sns.send(new GetTopicAttributesCommand({ TopicArn: arn })),
      ))
        ? { arn }
        : undefined,
    createTopic: (name) =>
      caller.call(
        'sns:CreateTopic',
        name,
        async () => (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!,
      ),
    deleteTopic: (arn) =>
      caller.gone('sns:DeleteTopic', arn, () => sns.send(new DeleteTopicCommand({ TopicArn: arn }))),
    listSubscriptions: (topicArn) =>
      caller.call('sns:ListSubscriptionsByTopic', topicArn, async () => {
        const out: TopicSubscription[] = [];
        let next: string | undefined;
        do {
          const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }));
          for (const s of page.Subscriptions ?? [])
            out.push({ protocol: s.Protocol ?? '', endpoint: s.Endpoint ?? '', arn: s.SubscriptionArn ?? '' });
          next = page.NextToken;
        } while (next);
        return out;
      }),
    subscribe: (topicArn, protocol, endpoint) =>
      caller.call('sns:Subscribe', `${topicArn} ${endpoint}`, async () => {
        await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint }));
      }),
    publish: (topicArn, subject, message) =>
      caller.call(
        'sns:Publish',
        topicArn,
        async () =>
          (await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: message }))).MessageId!,
      ),
  };
}
