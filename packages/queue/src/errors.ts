/**
 * The queue's named errors, Python's `queue.Empty`, `queue.Full` and
 * `queue.ShutDown`.
 *
 * `instanceof` goes by the error's `name`, so an error that crossed a thread
 * or process boundary (Thread.join rethrows it with its name, message and
 * stack, but as a plain Error) still matches, and so does one made by the
 * other (ESM or CJS) build of this package.
 */

function byName(name: string): (value: unknown) => boolean {
  return (value) => value instanceof Error && value.name === name;
}

/** `get` found no item: `getNowait()` on an empty queue, or a `get` whose timeout passed. */
export class QueueEmpty extends Error {
  override name = 'QueueEmpty';
  static override [Symbol.hasInstance] = byName('QueueEmpty');
}

/** `put` found no room: `putNowait()` on a full queue, or a `put` whose timeout passed. */
export class QueueFull extends Error {
  override name = 'QueueFull';
  static override [Symbol.hasInstance] = byName('QueueFull');
}

/**
 * The queue was shut down: every `put` throws it, and `get` throws it once
 * the queue is empty (at once after `shutdown({ immediate: true })`).
 */
export class QueueShutDown extends Error {
  override name = 'QueueShutDown';
  static override [Symbol.hasInstance] = byName('QueueShutDown');
}
