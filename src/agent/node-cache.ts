import type { IronicNode } from '../hardware/step-context.js';

/** IPA's `hardware.cache_node`: the last node dict any command carried. */
export class NodeCache {
  #node: IronicNode | undefined;

  get current(): IronicNode | undefined {
    return this.#node;
  }

  /** Returns true when this is a different node than the one cached before. */
  update(node: IronicNode | undefined): boolean {
    if (!node) return false;
    const changed = this.#node?.uuid !== node.uuid;
    this.#node = node;
    return changed;
  }
}
