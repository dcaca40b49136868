/**
 * The queue's shared memory: one allocation of Int32 words (allocateWords):
 * 6 header lines of 64 bytes, then the ring of `cap` bytes (a multiple of 4),
 * then the shape table (SHAPE_TABLE_BYTES: the key lists of flat objects,
 * shapes.ts). Each item is one record in the ring (record.ts: a header word,
 * then its bytes). The words of each line:
 *
 *   config   CAPACITY MAXSIZE KIND SHUTDOWN             written once (SHUTDOWN: under PUT_LOCK)
 *            SHAPES (lock, count, bytes)                shape table, appended under its own lock
 *   put side PUT_LOCK TAIL PUT_COUNT HEAD_SEEN GOT_SEEN written by producers only
 *            (PUT_LOCK + ASYNC_LOCKERS: async waiters on PUT_LOCK)
 *   get side GET_LOCK HEAD GET_COUNT PUT_SEEN           written by consumers only
 *            (GET_LOCK + ASYNC_LOCKERS: async waiters on GET_LOCK)
 *   getters  GET_SLEEPERS GET_SLEEPY NOT_EMPTY          sleeping consumers: count, flag, eventcount
 *   putters  PUT_SLEEPERS PUT_SLEEPY NOT_FULL           sleeping producers: the same
 *   join     DONE JOIN_WAITERS                          JoinableQueue: taskDone calls (+ dropped items)
 *
 * What the words mean and how they change: the top of queue.ts. This file
 * also holds what the queue's files share about one queue (QueueState).
 */
import type { Ring } from './record.js';
import type { Side } from './side.js';

const LINE = 16; // Int32 words per 64-byte cache line
export const CAPACITY = 0;
export const MAXSIZE = 1;
export const KIND = 2;
/** 0, or 1 once shut down, 2 once shut down immediately. */
export const SHUTDOWN = 3;
/** Shape table (shapes.ts): lock, count, bytes used; the table follows the ring. */
export const SHAPES = 4;
export const PUT_LOCK = LINE;
export const TAIL = LINE + 1;
export const PUT_COUNT = LINE + 2;
export const HEAD_SEEN = LINE + 3;
export const GOT_SEEN = LINE + 4;
export const GET_LOCK = 2 * LINE;
export const HEAD = 2 * LINE + 1;
export const GET_COUNT = 2 * LINE + 2;
export const PUT_SEEN = 2 * LINE + 3;
/** Offset from a lock word to its count of async waiters (a spare word of the same line). */
export const ASYNC_LOCKERS = 8;
export const GET_SLEEPERS = 3 * LINE;
export const GET_SLEEPY = 3 * LINE + 1;
export const NOT_EMPTY = 3 * LINE + 2;
export const PUT_SLEEPERS = 4 * LINE;
export const PUT_SLEEPY = 4 * LINE + 1;
export const NOT_FULL = 4 * LINE + 2;
/** JoinableQueue: taskDone() calls and dropped items; unfinished = PUT_COUNT - DONE. */
export const DONE = 5 * LINE;
export const JOIN_WAITERS = 5 * LINE + 1;
export const HEADER_WORDS = 6 * LINE;

/**
 * HEAD and TAIL are byte positions, multiples of 4; their low two bits (TAG)
 * hold their side's count mod 4 as of their last store (GET_COUNT, resp.
 * PUT_COUNT): a lock taken over from a dead holder tells from them whether
 * the section stopped between the position and the count (sections.ts recover).
 */
export const TAG = 3;
export const POS = ~TAG;

export const KIND_QUEUE = 1;
export const KIND_JOINABLE = 2;

/** What a locked section returns when the call must wait: full (put) or empty (get). */
export const WAIT: unique symbol = Symbol('conc.queue.wait');
/** What a locked section returns when the call is refused for good: shut down (put), shut down and empty (get). */
export const SHUT: unique symbol = Symbol('conc.queue.shut');

/** The method names a queue's messages use (`Queue.put`, `JoinableQueue.getSync`, ...). */
export function namesFor(label: string) {
  const m = (name: string) => `${label}.${name}`;
  return {
    label,
    put: m('put'),
    putSync: m('putSync'),
    putNowait: m('putNowait'),
    get: m('get'),
    getSync: m('getSync'),
    getNowait: m('getNowait'),
    shutdown: m('shutdown'),
  };
}
export type Names = ReturnType<typeof namesFor>;

/** What the locked sections and the waits of one queue (in one thread) work on. */
export interface QueueState {
  /** header words, ring and shape table */
  readonly words: Int32Array;
  readonly ring: Ring;
  readonly maxsize: number;
  readonly byteCapacity: number;
  /** 2 * byteCapacity: positions run over [0, span) */
  readonly span: number;
  readonly names: Names;
  readonly putters: Side;
  readonly getters: Side;
}
