import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import type { AwsServiceContext } from './service.js';
import { observeCalls } from './call.js';

/** The SNS calls agentkeys makes: the alerts themselves (and, for tests and setup, a topic to send to). */
export interface SnsApi {
  /** CreateTopic is idempotent by name: the existing topic's ARN is returned. */
  createTopic(name: string): Promise<string>;
  subscribe(topicArn: string, protocol: 'email' | 'https' | 'http', endpoint: string): Promise<void>;
  publish(topicArn: string, subject: string, message: string): Promise<string>;
}

export function createSnsApi(ctx: AwsServiceContext): SnsApi {
  const caller = ctx.caller;
  const sns = observeCalls(new SNSClient(ctx.config), 'sns', ctx.onCall);
  return {
    createTopic: (name) =>
      caller.call(
        'sns:CreateTopic',
        name,
        async () => (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn!,
      ),
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
