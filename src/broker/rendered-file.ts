/** One file of the broker host, as rendered. */
export interface RenderedFile {
  /** Relative to the host's root, e.g. etc/systemd/system/agentkeys-broker.service. */
  path: string;
  content: string;
  mode: number;
}
