/**
 * Group commit: while one batch is being written, callers that arrive queue up, and the next
 * write takes all of them at once (one lock acquisition, one transaction, one fsync). A caller
 * alone is written at once; under load the batch grows by itself. Outputs come back per item.
 */
export class GroupCommit<I, O> {
  private queue: { items: I[]; resolve: (out: O[]) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly write: (items: I[]) => Promise<O[]>) {}

  submit(items: I[]): Promise<O[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const out = await this.write(batch.flatMap((b) => b.items));
        let at = 0;
        for (const b of batch) {
          b.resolve(out.slice(at, at + b.items.length));
          at += b.items.length;
        }
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.running = false;
  }
}
