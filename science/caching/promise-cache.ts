// A per-process cache of in-flight or finished async work. A rejected promise is evicted, so one
// transient failure does not poison every later request for the same key.
export class PromiseCache<V> {
  private readonly entries = new Map<string, Promise<V>>();

  get(key: string, make: () => Promise<V>): Promise<V> {
    let p = this.entries.get(key);
    if (!p) {
      p = make();
      this.entries.set(key, p);
      p.catch(() => {
        if (this.entries.get(key) === p) this.entries.delete(key);
      });
    }
    return p;
  }
}
