import { describe, expect, it } from 'vitest';
import {
  ConcRuntimeError,
  DataCloneError,
  JoinableQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
} from '@conc/queue';
import { drain, untilWaiting, waiting } from './helpers';

describe('Queue on one thread', () => {
  it('is FIFO; qsize, empty and full follow puts and gets', async () => {
    const q = new Queue<number>(3);
    expect(q.maxsize).toBe(3);
    expect([q.qsize(), q.empty(), q.full()]).toEqual([0, true, false]);
    q.putNowait(1);
    q.putSync(2);
    await q.put(3);
    expect([q.qsize(), q.empty(), q.full()]).toEqual([3, false, true]);
    expect(q.getNowait()).toBe(1);
    expect(q.getSync()).toBe(2);
    expect(await q.get()).toBe(3);
    expect([q.qsize(), q.empty(), q.full()]).toEqual([0, true, false]);
  });

  it('maxsize 0 bounds nothing but the bytes: full() stays false', () => {
    const q = new Queue<number>();
    for (let i = 0; i < 10_000; i++) q.putNowait(i);
    expect(q.full()).toBe(false);
    expect(q.qsize()).toBe(10_000);
    expect(drain(q)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('wraps around a tiny ring many times and keeps every item intact, in order', () => {
    const q = new Queue<unknown>(0, { byteCapacity: 64 });
    expect(q.byteCapacity).toBe(64);
    const items: unknown[] = [];
    for (let i = 0; i < 2_000; i++) {
      items.push(
        [i, 'x'.repeat(i % 30), null][i % 3],
        { id: i, s: 'é'.repeat(i % 9) },
        i + 0.5,
        `s${'ü'.repeat(i % 20)}`,
      );
    }
    const out: unknown[] = [];
    let k = 0;
    while (out.length < items.length) {
      // put while it fits, then take a few: the ring's ends move around it
      while (k < items.length) {
        try {
          q.putNowait(items[k]);
          k++;
        } catch (error) {
          expect(error).toBeInstanceOf(QueueFull);
          break;
        }
      }
      for (let j = 0; j < 2 && !q.empty(); j++) out.push(q.getNowait());
    }
    expect(out).toEqual(items);
  });

  it('an item as large as the whole ring goes in at any offset (split across the end)', () => {
    const q = new Queue<unknown>(0, { byteCapacity: 64 });
    for (let shift = 0; shift < 40; shift++) {
      q.putNowait('s'.repeat(shift)); // moves the ring's ends by 4 + shift rounded up to 4
      expect(q.getNowait()).toBe('s'.repeat(shift));
      const whole = ['w'.repeat(60), 'ж'.repeat(30), { k: 'v'.repeat(59) }][shift % 3];
      q.putNowait(whole);
      expect(() => q.putNowait(null)).toThrow(QueueFull); // not even 4 bytes left
      expect(q.getNowait()).toEqual(whole);
    }
  });

  it('byteCapacity is rounded up to a multiple of 4; toString and inspect summarize', () => {
    const q = new Queue(2, { byteCapacity: 21 });
    expect(q.byteCapacity).toBe(24);
    q.putNowait('a');
    expect(String(q)).toBe('Queue(1 items, maxsize=2, byteCapacity=24)');
    q.shutdown();
    expect(String(q)).toBe('Queue(1 items, maxsize=2, byteCapacity=24, shut down)');
    expect(String(new JoinableQueue())).toBe('JoinableQueue(0 items, byteCapacity=1048576)');
  });

  it('instanceof: a JoinableQueue is a Queue, a Queue is not a JoinableQueue', () => {
    expect(new Queue()).toBeInstanceOf(Queue);
    expect(new JoinableQueue()).toBeInstanceOf(Queue);
    expect(new JoinableQueue()).toBeInstanceOf(JoinableQueue);
    expect(new Queue() instanceof JoinableQueue).toBe(false);
    expect({} instanceof Queue).toBe(false);
  });
});

describe('nowait and timeouts', () => {
  it('getNowait on an empty queue throws QueueEmpty; putNowait on a full one QueueFull', () => {
    const q = new Queue<number>(1);
    expect(() => q.getNowait()).toThrow(QueueEmpty);
    expect(() => q.getNowait()).toThrow('Queue.getNowait: the queue is empty');
    q.putNowait(7);
    expect(() => q.putNowait(8)).toThrow(QueueFull);
    expect(() => q.putNowait(8)).toThrow('Queue.putNowait: the queue is full (it holds 1 of maxsize 1 items)');
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe(7);
  });

  it('full by bytes: putNowait throws QueueFull naming the sizes, and nothing was written', () => {
    const q = new Queue<string>(0, { byteCapacity: 32 });
    q.putNowait('a'.repeat(20)); // 24 bytes
    expect(() => q.putNowait('b'.repeat(8))).toThrow(/the item needs 12 bytes/);
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe('a'.repeat(20));
    q.putNowait('b'.repeat(8));
    expect(q.getNowait()).toBe('b'.repeat(8));
  });

  it('getSync / get with a timeout throw QueueEmpty and take nothing', async () => {
    const q = new Queue<number>();
    expect(() => q.getSync({ timeout: 30 })).toThrow(QueueEmpty);
    expect(() => q.getSync({ timeout: 0 })).toThrow('Queue.getSync: no item within 0 ms');
    await expect(q.get({ timeout: 30 })).rejects.toThrow(QueueEmpty);
    await expect(q.get({ timeout: 0 })).rejects.toThrow('Queue.get: no item within 0 ms');
    q.putNowait(5);
    expect(q.qsize()).toBe(1);
    expect(q.getSync({ timeout: 0 })).toBe(5);
  }, 10_000);

  it('putSync / put with a timeout throw QueueFull and enqueue nothing', async () => {
    const q = new Queue<number>(2);
    q.putNowait(1);
    q.putNowait(2);
    expect(() => q.putSync(3, { timeout: 30 })).toThrow(QueueFull);
    expect(() => q.putSync(3, { timeout: 30 })).toThrow(
      'Queue.putSync: still full after 30 ms (it holds 2 of maxsize 2 items)',
    );
    await expect(q.put(3, { timeout: 30 })).rejects.toThrow(QueueFull);
    await expect(q.put(3, { timeout: 0 })).rejects.toThrow(QueueFull);
    expect(drain(q)).toEqual([1, 2]);
  }, 10_000);

  it('a put that times out for lack of bytes leaves no partial record behind', async () => {
    const q = new Queue<string>(0, { byteCapacity: 64 });
    q.putNowait('a'.repeat(40)); // 44 of 64 bytes
    expect(() => q.putSync('b'.repeat(30), { timeout: 20 })).toThrow(QueueFull);
    await expect(q.put({ big: 'c'.repeat(30) } as never, { timeout: 20 })).rejects.toThrow(QueueFull);
    q.putNowait('d'.repeat(16)); // 20 bytes: fits exactly
    expect(drain(q)).toEqual(['a'.repeat(40), 'd'.repeat(16)]);
  }, 10_000);

  it('an async get waiting with a timeout gets an item put before it expires', async () => {
    const q = new Queue<string>();
    const p = q.get({ timeout: 10_000 });
    setTimeout(() => q.putNowait('late'), 20);
    expect(await p).toBe('late');
  }, 15_000);

  it('an async put waiting for room goes in when a get makes room', async () => {
    const q = new Queue<string>(1);
    q.putNowait('first');
    const p = q.put('second', { timeout: 10_000 });
    await untilWaiting(q, 'put', 1);
    expect(q.getNowait()).toBe('first');
    await p;
    expect(drain(q)).toEqual(['second']);
    expect(waiting(q, 'put')).toBe(0);
  }, 15_000);
});

describe('bad input', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('maxsize %s is a RangeError', (maxsize) => {
    expect(() => new Queue(maxsize)).toThrow(RangeError);
    expect(() => new Queue(maxsize)).toThrow(/Queue: maxsize must be an integer >= 0/);
    expect(() => new JoinableQueue(maxsize)).toThrow(/JoinableQueue: maxsize/);
  });

  it('maxsize that is not a number is a TypeError; bad byteCapacity a RangeError', () => {
    expect(() => new Queue('3' as never)).toThrow(TypeError);
    expect(() => new Queue(0, { byteCapacity: 8 })).toThrow(RangeError);
    expect(() => new Queue(0, { byteCapacity: 1.5 })).toThrow(/byteCapacity must be an integer from 16/);
    expect(() => new Queue(0, { byteCapacity: 2 ** 29 })).toThrow(RangeError);
    expect(() => new Queue(0, null as never)).toThrow(TypeError);
  });

  it.each([-1, -0.5, Number.NaN, Number.NEGATIVE_INFINITY])(
    'timeout %s: RangeError from Sync methods, rejection from async ones',
    async (timeout) => {
      const q = new Queue<number>(1);
      q.putNowait(1); // full and not empty: the check comes before any waiting
      expect(() => q.getSync({ timeout })).toThrow(RangeError);
      expect(() => q.getSync({ timeout })).toThrow(/Queue\.getSync: timeout/);
      expect(() => q.putSync(2, { timeout })).toThrow(RangeError);
      let p!: Promise<unknown>;
      expect(() => {
        p = q.get({ timeout });
      }).not.toThrow();
      await expect(p).rejects.toThrow(RangeError);
      await expect(q.put(2, { timeout })).rejects.toThrow(/Queue\.put: timeout/);
      expect(drain(q)).toEqual([1]);
    },
  );

  it('options that are not objects, signals on Sync methods, non-AbortSignal signals are TypeErrors', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    expect(() => q.getSync(42 as never)).toThrow(TypeError);
    expect(() => q.getSync({ signal: new AbortController().signal } as never)).toThrow(/cannot take a signal/);
    await expect(q.get({ signal: 'no' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(() => q.shutdown(7 as never)).toThrow(TypeError);
    expect(q.getNowait()).toBe(1);
  });

  it('a function or a symbol (even nested) is a DataCloneError naming it; the queue is unchanged', async () => {
    const q = new Queue<unknown>();
    q.putNowait('before');
    expect(() => q.putSync(function work() {})).toThrow(DataCloneError);
    expect(() => q.putSync(function work() {})).toThrow(
      'Queue.putSync: item is a function (work); functions cannot be put in a queue; nothing was enqueued',
    );
    expect(() => q.putNowait({ a: { list: [1, Symbol('s')] } })).toThrow(
      'Queue.putNowait: item.a.list[1] is a symbol (Symbol(s)); symbols cannot be put in a queue; nothing was enqueued',
    );
    await expect(q.put({ cb: () => 1 })).rejects.toThrow(/item\.cb is a function \(cb\)/);
    await expect(q.put(new Map([['k', () => 1]]))).rejects.toThrow(DataCloneError);
    expect(() => q.putNowait({ sab: new SharedArrayBuffer(4) })).toThrow(/item\.sab cannot be cloned/);
    expect(() => q.putNowait(new Proxy({}, {}))).toThrow(DataCloneError);
    expect(q.qsize()).toBe(1);
    q.putNowait('after');
    expect(drain(q)).toEqual(['before', 'after']);
  });

  it('a conc primitive inside an item (it would arrive empty) is a DataCloneError naming it', () => {
    const q = new Queue<unknown>();
    const other = new JoinableQueue();
    expect(() => q.putNowait(other)).toThrow(
      'Queue.putNowait: item is a conc JoinableQueue, which cannot be put in a queue (its shared memory cannot be copied); pass it to the thread in args; nothing was enqueued',
    );
    expect(() => q.putSync({ jobs: [1, { q: other }] })).toThrow(
      /^Queue\.putSync: item\.jobs\[1\]\.q is a conc JoinableQueue/,
    );
    expect(() => q.putSync(new Map([['k', new Set([q])]]))).toThrow(DataCloneError);
    expect(q.qsize()).toBe(0);
  });

  it('an item larger than byteCapacity is a RangeError stating both sizes; nothing enqueued', async () => {
    const q = new Queue<unknown>(0, { byteCapacity: 64 });
    const big = 'z'.repeat(100);
    expect(() => q.putNowait(big)).toThrow(RangeError);
    expect(() => q.putSync(big)).toThrow(
      "Queue.putSync: the item takes 104 bytes serialized, more than the queue's byteCapacity of 64 bytes; nothing was enqueued (give the queue a larger { byteCapacity })",
    );
    await expect(q.put({ list: new Array(100).fill(1) })).rejects.toThrow(
      /more than the queue's byteCapacity of 64 bytes/,
    );
    expect(q.qsize()).toBe(0);
    q.putNowait('z'.repeat(60)); // exactly 64 bytes: fits
    expect(q.getNowait()).toBe('z'.repeat(60));
  });

  it('taskDone() called too often is a ConcRuntimeError', () => {
    const q = new JoinableQueue<number>();
    expect(() => q.taskDone()).toThrow(ConcRuntimeError);
    q.putNowait(1);
    q.getNowait();
    q.taskDone();
    expect(() => q.taskDone()).toThrow(
      'JoinableQueue.taskDone: called more times than items were put (no unfinished task left)',
    );
    expect(q.unfinishedTasks).toBe(0);
  });
});

describe('abort', () => {
  it('an already-aborted signal rejects with its reason: nothing enqueued or dequeued', async () => {
    const q = new Queue<number>();
    const reason = new Error('stop');
    await expect(q.put(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(q.qsize()).toBe(0);
    q.putNowait(2);
    await expect(q.get({ signal: AbortSignal.abort('just a string') })).rejects.toBe('just a string');
    expect(q.getNowait()).toBe(2);
  });

  it('aborting a waiting get rejects with the reason; a later item goes to the other waiter', async () => {
    const q = new Queue<string>();
    const ac = new AbortController();
    const reason = new Error('cancelled while waiting');
    const aborted = q.get({ signal: ac.signal });
    const other = q.get({ timeout: 10_000 });
    await untilWaiting(q, 'get', 2);
    ac.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    q.putNowait('for the other');
    expect(await other).toBe('for the other');
    expect(q.qsize()).toBe(0);
  }, 15_000);

  it('aborting a waiting put rejects with the reason and enqueues nothing', async () => {
    const q = new Queue<string>(1);
    q.putNowait('in');
    const ac = new AbortController();
    const p = q.put('never', { signal: ac.signal, timeout: 10_000 });
    await untilWaiting(q, 'put', 1);
    ac.abort(new Error('no more'));
    await expect(p).rejects.toThrow('no more');
    expect(drain(q)).toEqual(['in']);
    expect(waiting(q, 'put')).toBe(0);
  }, 15_000);

  it('an item that arrives as a waiter is aborted goes to the other waiter', async () => {
    for (let round = 0; round < 10; round++) {
      const q = new Queue<number>();
      const ac = new AbortController();
      const aborted = q.get({ signal: ac.signal });
      const other = q.get({ timeout: 10_000 });
      await untilWaiting(q, 'get', 2);
      q.putNowait(round); // wakes the waiters, and then, before they run, the abort
      ac.abort(new Error(`abort ${round}`));
      await expect(aborted).rejects.toThrow(`abort ${round}`);
      expect(await other).toBe(round);
      expect(q.qsize()).toBe(0);
    }
  }, 20_000);
});

describe('shutdown (Python 3.13)', () => {
  it('put after shutdown throws QueueShutDown; get drains what is left, then throws it', async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    expect(q.isShutDown).toBe(false);
    q.shutdown();
    expect(q.isShutDown).toBe(true);
    expect(() => q.putNowait(3)).toThrow(QueueShutDown);
    expect(() => q.putSync(3)).toThrow('Queue.putSync: the queue is shut down');
    await expect(q.put(3)).rejects.toThrow(QueueShutDown);
    expect(q.getSync()).toBe(1);
    expect(await q.get()).toBe(2);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
    expect(() => q.getSync({ timeout: 10_000 })).toThrow('Queue.getSync: the queue is shut down and empty');
    await expect(q.get()).rejects.toThrow(QueueShutDown);
    q.shutdown(); // again: fine
  });

  it('shutdown({ immediate: true }) drops what is left; gets throw at once', () => {
    const q = new Queue<number>();
    for (let i = 0; i < 5; i++) q.putNowait(i);
    q.shutdown({ immediate: true });
    expect(q.qsize()).toBe(0);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
    expect(() => q.putNowait(9)).toThrow(QueueShutDown);
  });

  it('wakes async getters and putters blocked in this thread', async () => {
    const empty = new Queue<number>();
    const full = new Queue<number>(1);
    full.putNowait(0);
    const getters = [empty.get(), empty.get({ timeout: 20_000 })];
    const putters = [full.put(1), full.put(2, { timeout: 20_000 })];
    await untilWaiting(empty, 'get', 2);
    await untilWaiting(full, 'put', 2);
    empty.shutdown();
    full.shutdown();
    for (const r of await Promise.allSettled([...getters, ...putters])) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QueueShutDown);
    }
    expect(drain(full)).toEqual([0]);
  }, 15_000);

  it('for await ends at shutdown, after the items left', async () => {
    const q = new Queue<string>();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const item of q) seen.push(item);
      return 'ended';
    })();
    await q.put('a');
    await q.put('b');
    await untilWaiting(q, 'get', 1);
    q.putNowait('c');
    q.shutdown();
    expect(await loop).toBe('ended');
    expect(seen).toEqual(['a', 'b', 'c']);
  }, 15_000);

  it('QueueEmpty, QueueFull and QueueShutDown match by name (errors rebuilt from another thread too)', () => {
    const rebuilt = Object.assign(new Error('x'), { name: 'QueueShutDown' });
    expect(rebuilt).toBeInstanceOf(QueueShutDown);
    expect(rebuilt instanceof QueueEmpty).toBe(false);
    expect(new QueueEmpty('e')).toBeInstanceOf(Error);
    expect(new QueueFull('f').name).toBe('QueueFull');
  });
});

describe('JoinableQueue on one thread', () => {
  it('join resolves once every item put was marked done', async () => {
    const q = new JoinableQueue<number>();
    expect(q.joinSync()).toBe(true);
    expect(await q.join()).toBe(true);
    q.putNowait(1);
    q.putNowait(2);
    expect(q.unfinishedTasks).toBe(2);
    q.getNowait();
    q.taskDone();
    expect(q.joinSync({ timeout: 20 })).toBe(false);
    expect(await q.join({ timeout: 20 })).toBe(false);
    const joined = q.join({ timeout: 10_000 });
    q.getNowait();
    setTimeout(() => q.taskDone(), 20);
    expect(await joined).toBe(true);
    expect(q.unfinishedTasks).toBe(0);
  }, 15_000);

  it('join rejects with the reason of an aborted signal; bad timeouts are RangeErrors', async () => {
    const q = new JoinableQueue<number>();
    q.putNowait(1);
    const ac = new AbortController();
    const p = q.join({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error('enough')), 20);
    await expect(p).rejects.toThrow('enough');
    expect(() => q.joinSync({ timeout: -1 })).toThrow(RangeError);
    await expect(q.join({ timeout: Number.NaN })).rejects.toThrow(RangeError);
  }, 15_000);

  it('shutdown({ immediate: true }) marks the dropped items done and wakes join', async () => {
    const q = new JoinableQueue<number>();
    for (let i = 0; i < 3; i++) q.putNowait(i);
    q.getNowait(); // taken, not done yet
    const joined = q.join({ timeout: 10_000 });
    q.shutdown({ immediate: true });
    expect(q.unfinishedTasks).toBe(1);
    q.taskDone();
    expect(await joined).toBe(true);
  }, 15_000);
});

describe('put-back for @conc/process (internal)', () => {
  // The broker puts back items it got for a consumer process that did not take them.
  const RESTORE = Symbol.for('conc.queue.restore.v1');
  type Restorable = { [RESTORE](item: unknown): Promise<boolean> };

  it('a shutdown without immediate does not refuse it (get drains it); it waits for room; an immediate one drops it', async () => {
    const q = new JoinableQueue<number>(1);
    const r = q as unknown as Restorable;
    q.shutdown();
    expect(() => q.putNowait(0)).toThrow(QueueShutDown);
    expect(await r[RESTORE](1)).toBe(true);
    expect(q.unfinishedTasks).toBe(1);
    const waiting = r[RESTORE](2); // full (maxsize 1): waits for room
    await untilWaiting(q, 'put', 1);
    expect(q.getNowait()).toBe(1);
    expect(await waiting).toBe(true);
    const dropped = r[RESTORE](3);
    await untilWaiting(q, 'put', 1);
    q.shutdown({ immediate: true });
    expect(await dropped).toBe(false);
    expect(await r[RESTORE](4)).toBe(false);
    expect(() => q.getNowait()).toThrow(QueueShutDown);
  }, 15_000);
});
