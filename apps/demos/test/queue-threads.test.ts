import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('document examples', () => {
  it('queue-threads: the consumer thread prints what the producer thread put, until the null sentinel', () => {
    expect(runDemo('queue-threads').lines).toEqual([
      'Получено: 0',
      'Получено: 1',
      'Получено: 2',
      'Получено: 3',
      'Получено: 4',
    ]);
  }, 25_000);
});
