// When a part of a view is drawn again: only when what it shows changed, and not under a
// click.

/** Draws `parent`'s children again only when what they show (`key`) changed. A repaint with
 * nothing new keeps the same nodes: a click landing on one of them (between its press and its
 * release) or the keyboard's focus on one is not lost to a node put in its place.
 * @param {{dataset: DOMStringMap, replaceChildren: (...nodes: (Node | string)[]) => void}} parent
 * @param {string} key @param {() => (Node | string)[]} make */
export function keyed(parent, key, make) {
  if (parent.dataset.key === key) return;
  parent.replaceChildren(...make());
  parent.dataset.key = key;
}

/**
 * A click is a press and a release on the same node: a part drawn again between the two (a
 * refresh or a progress event landing mid-click) puts a new node under the release, and the
 * click is lost. While a pointer button is down, the gate holds back what asks to be drawn,
 * and draws each held painter once, just after the release (after its click has run); a
 * press held longer than `most` ms (a drag, a scrollbar) holds nothing back any more.
 */
export class PressGate {
  /** @param {() => number} now @param {(fn: () => void, ms: number) => void} later @param {number} [most] */
  constructor(now, later, most = 1000) {
    this.now = now; this.later = later; this.most = most;
    this.down = false;
    this.pressedAt = 0;
    /** @type {Set<() => void>} */
    this.held = new Set();
  }

  pressed() { return this.down && this.now() - this.pressedAt < this.most; }

  press() { this.down = true; this.pressedAt = this.now(); }

  release() { this.down = false; this.later(() => this.flush(), 0); }

  /** Whether `paint` must wait (it is then held, and run after the release). @param {() => void} paint */
  holds(paint) {
    if (!this.pressed()) return false;
    if (!this.held.size) this.later(() => this.flush(), this.most - (this.now() - this.pressedAt));
    this.held.add(paint);
    return true;
  }

  flush() {
    if (!this.held.size) return;
    // Still pressed (a timer of an earlier press, or a release never seen): again when the
    // limit comes.
    if (this.pressed()) { this.later(() => this.flush(), this.most - (this.now() - this.pressedAt)); return; }
    const held = [...this.held];
    this.held.clear();
    // Each drawn whatever another one does.
    for (const paint of held) try { paint(); } catch (e) { console.error(e); }
  }
}
