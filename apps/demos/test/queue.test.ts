import { describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.js';

describe('queue demo', () => {
  it('the consumer process prints every item the producer process put, in order', () => {
    expect(runDemo('queue').lines).toEqual(['Получено: 0', 'Получено: 1', 'Получено: 2', 'Получено: 3', 'Получено: 4']);
  }, 30_000);
});
