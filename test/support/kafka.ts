/**
 * Creates topics and polls until every partition has a leader. kafkajs' own `waitForLeaders`
 * retries only LEADER_NOT_AVAILABLE, and a topic this new may still answer "this server does
 * not host this topic-partition" to a metadata request, which failed CI runs.
 */
import type { Admin, ITopicConfig } from 'kafkajs';

export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  // kafkajs' own wait would fail on that answer: the poll below waits instead
  await admin.createTopics({ topics, waitForLeaders: false });
  if (
    !(await waitForLeaders(
      admin,
      topics.map((t) => t.topic),
      timeoutMs,
    ))
  ) {
    throw new Error(`topics ${topics.map((t) => t.topic).join(', ')} got no partition leaders`);
  }
}

/** Polls until the topics exist and every partition has a leader; false after the timeout. */
export async function waitForLeaders(admin: Admin, names: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await admin
      .fetchTopicMetadata({ topics: names })
      .then((m) => m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)))
      .catch(() => false);
    if (ready) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
