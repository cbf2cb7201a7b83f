/**
 * Undo and redo over immutable states: each step keeps the state before it.
 */
export class History<T> {
  /**
   * @param limit - steps kept for undo; the oldest go first.
   */
  constructor(readonly limit = 100) {}

  get canUndo(): boolean {
    return this._past.length > 0;
  }

  get canRedo(): boolean {
    return this._future.length > 0;
  }

  /** Steps that can be undone. */
  get depth(): number {
    return this._past.length;
  }

  /** Record that the state `before` was left for a new one; redo is no longer possible. */
  record(before: T): void {
    this._past.push(before);
    if (this._past.length > this.limit) {
      this._past.shift();
    }
    this._future = [];
  }

  /** The state before `current`, or undefined when there is none. */
  undo(current: T): T | undefined {
    const previous = this._past.pop();
    if (previous !== undefined) {
      this._future.push(current);
    }
    return previous;
  }

  /** The state undone last, or undefined when there is none. */
  redo(current: T): T | undefined {
    const next = this._future.pop();
    if (next !== undefined) {
      this._past.push(current);
    }
    return next;
  }

  clear(): void {
    this._past = [];
    this._future = [];
  }

  private _past: T[] = [];
  private _future: T[] = [];
}
