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

// ---- the messages a call that cannot complete throws with ----------------------

/** What the error messages need to know of a queue. */
interface Described {
  readonly maxsize: number;
  readonly byteCapacity: number;
  qsize(): number;
}

/** A put found no room: at once (`timeout` undefined) or after waiting `timeout` ms. */
export function fullError(q: Described, method: string, size: number, timeout?: number): QueueFull {
  const n = q.qsize();
  const why =
    q.maxsize > 0 && n >= q.maxsize
      ? `it holds ${n} of maxsize ${q.maxsize} items`
      : `the item needs ${size} bytes and the ${n} items queued leave fewer free of ${q.byteCapacity}`;
  return new QueueFull(
    timeout === undefined
      ? `${method}: the queue is full (${why})`
      : `${method}: still full after ${timeout} ms (${why})`,
  );
}

/** A get found no item within `timeout` ms. */
export function emptyError(method: string, timeout: number | undefined): QueueEmpty {
  return new QueueEmpty(`${method}: no item within ${timeout} ms`);
}

/** A put whose timeout passed while another thread held the put lock. */
export function putBusyError(method: string, timeout: number | undefined): QueueFull {
  return new QueueFull(`${method}: could not put within ${timeout} ms: another thread held the queue's lock all along`);
}

/** A get whose timeout passed while another thread held the get lock. */
export function getBusyError(method: string, timeout: number | undefined): QueueEmpty {
  return new QueueEmpty(`${method}: no item within ${timeout} ms: another thread held the queue's lock all along`);
}

/** A put refused by a shutdown. */
export function shutError(method: string): QueueShutDown {
  return new QueueShutDown(`${method}: the queue is shut down`);
}

/** A get on a queue shut down and empty. */
export function shutEmptyError(method: string): QueueShutDown {
  return new QueueShutDown(`${method}: the queue is shut down and empty`);
}
