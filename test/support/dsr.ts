/** Names of a test's own DSR topics, so tests never share the pipeline's dsr.* topics. */
export function dsrTestTopics(run: string) {
  return {
    index: `${run}.subject-index`,
    requests: `${run}.requests`,
    results: `${run}.results`,
    audit: `${run}.audit`,
    dlq: `${run}.dlq`,
  };
}
