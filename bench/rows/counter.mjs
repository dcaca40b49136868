// A bench-only shared counter (one Int32, NOT atomic: guard it with a Lock),
// registered like any conc primitive so it crosses into processes. conc's own
// Value comes with @conc/value.
import { allocateWords, describeWords, registerShareable, wordsView } from '@conc/core';

export class Counter {
  constructor(words) {
    Object.defineProperty(this, 'words', { value: words ?? allocateWords(1) });
  }
  get value() {
    return this.words[0];
  }
  add(n) {
    this.words[0] = this.words[0] + n;
  }
}
registerShareable(Counter, {
  tag: 'bench.Counter',
  module: import.meta.url,
  share: (c) => ({ words: describeWords(c.words) }),
  revive: (data) => new Counter(wordsView(data.words)),
  process: { methods: ['add'], getters: ['value'] },
});
