// Real threads: producers and consumers in workers, exact multisets.
import { describe, expect, it } from 'vitest';
import { JoinableQueue, Queue, QueueShutDown } from '@conc/queue';
import { Thread } from '@conc/thread';
import { keyOf } from './fixtures/targets.mjs';
import { expectSameMultiset, finish, keysOf, spawn, untilWaiting } from './helpers';

const N = 20_000;

describe('many producers, many consumers', () => {
  it('3 producer threads x 2 consumer threads x 20 000 items each: nothing lost or duplicated (null sentinels)', async () => {
    const q = new Queue<unknown>();
    const consumers = [spawn('consumeUntilNull', [q]), spawn('consumeUntilNull', [q])];
    // producer 1 uses the async put; the items are ints, strings and objects
    const producers = [0, 1, 2].map((p) => spawn('produce', [q, p, N, p === 1]));
    for (const t of producers) expect(await finish(t)).toBe(N);
    q.putSync(null);
    await q.put(null);
    const got = (await Promise.all(consumers.map((t) => finish<string[]>(t)))).flat();
    expectSameMultiset(
      got,
      [0, 1, 2].flatMap((p) => keysOf(p, N)),
    );
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it('the same through a 64-byte ring (constant wrapping and blocking), ended by shutdown; one consumer uses for await', async () => {
    const q = new Queue<unknown>(0, { byteCapacity: 64 });
    const consumers = [spawn('consumeUntilShutdown', [q]), spawn('consumeAsyncUntilShutdown', [q])];
    const producers = [1, 2, 3].map((p) => spawn('produce', [q, p, N, p === 3]));
    for (const t of producers) expect(await finish(t)).toBe(N);
    q.shutdown(); // consumers drain what is left, then stop
    const got = await Promise.all(consumers.map((t) => finish<string[]>(t)));
    expectSameMultiset(
      got.flat(),
      [1, 2, 3].flatMap((p) => keysOf(p, N)),
    );
    expect(q.qsize()).toBe(0);
  }, 30_000);

  it('mixed sizes (1 byte to 64 KiB strings, nested objects, typed arrays, null, undefined): exact, FIFO per producer', async () => {
    const n = 600;
    const q = new Queue<unknown>(0, { byteCapacity: 200 * 1024 });
    const consumers = [spawn('consumeMixed', [q]), spawn('consumeMixed', [q])];
    const producers = [0, 1].map((p) => spawn('produceMixed', [q, p, n]));
    for (const t of producers) expect(await finish(t)).toBe(n);
    q.putSync(null);
    q.putSync(null);
    const results = await Promise.all(consumers.map((t) => finish<{ keys: string[]; bad: string[] }>(t)));
    expect(results.flatMap((r) => r.bad)).toEqual([]);
    expectSameMultiset(
      results.flatMap((r) => r.keys),
      [0, 1].flatMap((p) => keysOf(p, n)),
    );
  }, 30_000);

  it.each([
    ['an unbounded queue', 1 << 20],
    ['a 1 KiB ring (constant wrapping)', 1024],
  ])(
    'flat objects of 40 shapes each from 3 producers to 2 consumers through %s: exact keys, order and values',
    async (_, bytes) => {
      const n = 4000;
      const q = new Queue<unknown>(0, { byteCapacity: bytes });
      const consumers = [spawn('consumeShaped', [q]), spawn('consumeShaped', [q])];
      const producers = [0, 1, 2].map((p) => spawn('produceShaped', [q, p, n]));
      for (const t of producers) expect(await finish(t)).toBe(n);
      q.putSync(null);
      q.putSync(null);
      const results = await Promise.all(consumers.map((t) => finish<{ keys: string[]; bad: string[] }>(t)));
      expect(results.flatMap((r) => r.bad)).toEqual([]);
      expectSameMultiset(
        results.flatMap((r) => r.keys),
        [0, 1, 2].flatMap((p) => Array.from({ length: n }, (_, i) => `${p}:${i}`)),
      );
    },
    30_000,
  );

  it('one producer, one consumer: items come out in the order they were put', async () => {
    const q = new Queue<unknown>(100);
    const consumer = spawn('takeN', [q, N]);
    const producer = spawn('produce', [q, 0, N]);
    expect(await finish(producer)).toBe(N);
    expect(await finish<number[]>(consumer)).toEqual(Array.from({ length: N }, (_, i) => i));
  }, 30_000);
});

describe('timeouts across threads never lose or half-write an item', () => {
  it('gets that time out take nothing: got + left == put', async () => {
    const q = new Queue<unknown>();
    const producer = spawn('produceSlowly', [q, 0, 3_000]);
    const got: number[] = [];
    let timedOut = 0;
    while (producer.isAlive() || q.qsize() > 0) {
      try {
        got.push(q.getSync({ timeout: Math.random() < 0.5 ? 0 : 1 }) as number);
      } catch {
        timedOut += 1;
      }
      if (got.length % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await finish(producer)).toBe(3_000);
    expect(got).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
    expect(timedOut).toBeGreaterThan(0);
  }, 30_000);

  it('puts that time out enqueue nothing: got == the puts that succeeded', async () => {
    const q = new Queue<unknown>(4, { byteCapacity: 128 });
    const producers = [1, 2].map((p) => spawn('putWithTimeouts', [q, p, 3_000, 0]));
    const got: string[] = [];
    const take = () => got.push(keyOf(q.getNowait()));
    while (producers.some((t) => t.isAlive())) {
      if (q.qsize() > 0) take();
      else await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(producers.map((t) => finish<{ put: string[]; full: number }>(t)));
    while (q.qsize() > 0) take();
    expectSameMultiset(
      got,
      results.flatMap((r) => r.put),
    );
    expect(results.reduce((s, r) => s + r.put.length + r.full, 0)).toBe(6_000);
  }, 30_000);
});

describe('the queue locks', () => {
  it('an async get waiting for the get lock does not strand a getSync of the same thread behind it', async () => {
    // The async get parks on the lock word first; the unlock's one wake-up
    // used to go to it, whose event loop is the one blocked in getSync: a
    // deadlock on a free lock (the holder rescues the main thread after 3 s).
    const q = new Queue<string>();
    for (const item of ['a', 'b', 'c']) q.putNowait(item);
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const holder = spawn('holdGetLock', [q, flags, 200]);
    while (Atomics.load(flags, 0) === 0) await new Promise((r) => setTimeout(r, 2));
    const pending = q.get({ timeout: 10_000 });
    const t0 = performance.now();
    const got = q.getSync({ timeout: 10_000 });
    const ms = performance.now() - t0;
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    expect(await finish(holder)).toEqual({ item: 'a', rescued: false });
    expect(got).toBe('b');
    expect(ms).toBeLessThan(2500);
    expect(await pending).toBe('c');
  }, 30_000);
});

describe('shutdown across threads', () => {
  it('wakes getters blocked in other threads (getSync and await get): they throw QueueShutDown', async () => {
    const q = new Queue<unknown>();
    const getters = [spawn('blockedGet', [q, false]), spawn('blockedGet', [q, true])];
    await untilWaiting(q, 'get', 2);
    q.shutdown();
    for (const t of getters) {
      expect(await finish(t)).toEqual({ error: 'QueueShutDown', isShutDown: true, isEmpty: false });
    }
  }, 30_000);

  it('wakes putters blocked in other threads: they throw QueueShutDown; the items in stay gettable', async () => {
    const q = new Queue<unknown>(1);
    q.putNowait('in');
    const putters = [spawn('blockedPut', [q, 'a', false]), spawn('blockedPut', [q, 'b', true])];
    await untilWaiting(q, 'put', 2);
    q.shutdown();
    for (const t of putters) {
      expect(await finish(t)).toEqual({ error: 'QueueShutDown', isShutDown: true, isFull: false });
    }
    expect(q.getNowait()).toBe('in');
    expect(() => q.getNowait()).toThrow(QueueShutDown);
  }, 30_000);

  it('immediate shutdown drops the items and wakes both sides', async () => {
    const full = new Queue<unknown>(2);
    full.putNowait(1);
    full.putNowait(2);
    const empty = new Queue<unknown>();
    const threads = [spawn('blockedPut', [full, 3, false]), spawn('blockedGet', [empty, false])];
    await untilWaiting(full, 'put', 1);
    await untilWaiting(empty, 'get', 1);
    full.shutdown({ immediate: true });
    empty.shutdown({ immediate: true });
    expect(await finish(threads[0])).toEqual({ error: 'QueueShutDown', isShutDown: true, isFull: false });
    expect(await finish(threads[1])).toEqual({ error: 'QueueShutDown', isShutDown: true, isEmpty: false });
    expect(full.qsize()).toBe(0);
    expect(() => full.getNowait()).toThrow(QueueShutDown);
  }, 30_000);

  it('a thread that throws QueueShutDown: Thread.join rethrows it, still an instanceof QueueShutDown', async () => {
    const q = new Queue<unknown>();
    q.shutdown();
    const t = new Thread({ target: (q: Queue) => q.getSync(), args: [q] }).start();
    const error = await t.join({ timeout: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueShutDown);
    expect((error as Error).message).toBe('Queue.getSync: the queue is shut down and empty');
  }, 30_000);
});

describe('JoinableQueue across threads', () => {
  it('join returns only after the last taskDone', async () => {
    const n = 5_000;
    const q = new JoinableQueue<number | null>();
    const done = new Int32Array(new SharedArrayBuffer(4));
    const workers = [spawn('joinableWorker', [q, done]), spawn('joinableWorker', [q, done])];
    for (let i = 0; i < n; i++) q.putSync(i);
    expect(await q.join({ timeout: 25_000 })).toBe(true);
    expect(Atomics.load(done, 0)).toBe(n); // each worker counts before taskDone
    expect(q.unfinishedTasks).toBe(0);
    q.putSync(null);
    q.putSync(null);
    expect(q.joinSync({ timeout: 25_000 })).toBe(true);
    for (const t of workers) await finish(t);
  }, 30_000);

  it('join waits while one task is held, and returns once it is done', async () => {
    const q = new JoinableQueue<string>();
    const flags = new Int32Array(new SharedArrayBuffer(8));
    q.putSync('job');
    const worker = spawn('holdLastTask', [q, flags]);
    while (Atomics.load(flags, 1) === 0) await new Promise((r) => setTimeout(r, 2));
    expect(q.qsize()).toBe(0);
    expect(q.joinSync({ timeout: 30 })).toBe(false);
    expect(await q.join({ timeout: 30 })).toBe(false);
    const joined = q.join({ timeout: 20_000 });
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    expect(await joined).toBe(true);
    await finish(worker);
  }, 30_000);
});

describe('passing queues to threads', () => {
  it('a Queue and a JoinableQueue nested in Thread args arrive as themselves, over the same memory', async () => {
    const q = new Queue<unknown>(7, { byteCapacity: 4096 });
    const jq = new JoinableQueue<unknown>();
    q.putSync('from main');
    const t = spawn('describeArgs', [{ list: [q, 'plain'], deep: { jq } }]);
    expect(await finish(t)).toEqual({
      qIsQueue: true,
      qIsJoinable: false,
      jqIsQueue: true,
      jqIsJoinable: true,
      plain: 'plain',
      maxsize: 7,
      byteCapacity: 4096,
      got: 'from main',
    });
    expect(q.getNowait()).toBe('from the thread');
    expect(jq.getNowait()).toEqual({ hello: 'joinable' });
    expect(jq.unfinishedTasks).toBe(1);
  }, 30_000);

  it('a function target receives a Queue too, and a Queue can travel back as a result', async () => {
    const q = new Queue<number>();
    const t = new Thread({
      target: (queue: Queue<number>) => {
        queue.putSync(41);
        return { queue };
      },
      args: [q],
    }).start();
    const { queue } = await finish<{ queue: Queue<number> }>(t);
    expect(queue).toBeInstanceOf(Queue);
    queue.putSync(42);
    expect([q.getNowait(), q.getNowait()]).toEqual([41, 42]);
  }, 30_000);
});
