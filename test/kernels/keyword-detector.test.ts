import assert from 'node:assert/strict';
import { KeywordDetector, detectKeywordsOffline, type KeywordDetectorOptions } from '../../kernels/keyword-detector.js';

const classes = ['stop', 'go', 'four', 'forward', 'none'];
const o: KeywordDetectorOptions = { classes, none: 'none', threshold: 0.5, refractorySteps: 10, holdSteps: 3 };

/** A row of scores: `word` at `p`, the rest on none. */
const row = (word: string, p: number) => classes.map((c) => (c === word ? p : c === 'none' ? 1 - p : 0));
const quiet = () => row('none', 1);

describe('kernels/keyword-detector', () => {
  it('fires a word once at its first step over the threshold, however long its score stays there', () => {
    const rows = [quiet(), quiet(), row('stop', 0.6), row('stop', 0.9), row('stop', 0.8), quiet()];
    assert.deepEqual(detectKeywordsOffline(rows, o), [{ word: 'stop', index: 0, score: 0.6, step: 2 }]);
  });

  it('the same word again: only after the refractory time, and once its score fell below the threshold', () => {
    // Never below the threshold: one event, however long.
    assert.deepEqual(detectKeywordsOffline(Array(30).fill(row('go', 0.7)), o).map((d) => d.step), [0]);
    // Below it at step 1, over it again from step 2: the second event waits for the refractory time.
    const soon = [row('go', 0.7), quiet(), ...Array(12).fill(row('go', 0.7))];
    assert.deepEqual(detectKeywordsOffline(soon, o).map((d) => d.step), [0, 10]);
    const later = [row('go', 0.7), ...Array(10).fill(quiet()), row('go', 0.7)];
    assert.deepEqual(detectKeywordsOffline(later, o).map((d) => d.step), [0, 11]);
  });

  it('another word waits for the hold after any event (one utterance, one event), then fires', () => {
    const rows = [row('four', 0.7), row('forward', 0.8), row('forward', 0.8), row('forward', 0.8), row('go', 0.9)];
    assert.deepEqual(detectKeywordsOffline(rows, o).map((d) => [d.word, d.step]), [['four', 0], ['forward', 3]]);
  });

  it('takes the best word; none never fires; only the words asked for', () => {
    const both = classes.map((c) => (c === 'four' ? 0.55 : c === 'forward' ? 0.6 : 0));
    assert.deepEqual(detectKeywordsOffline([both], o).map((d) => d.word), ['forward']);
    assert.deepEqual(detectKeywordsOffline([row('none', 1)], { ...o, threshold: 0.1 }), []);
    assert.deepEqual(detectKeywordsOffline([both], { ...o, words: ['four'] }).map((d) => d.word), ['four']);
    assert.throws(() => new KeywordDetector({ ...o, words: ['lights'] }), /'lights' is not a word of the classes \(stop, go, four, forward\)/);
    assert.throws(() => new KeywordDetector({ ...o, threshold: 0 }), /threshold must be in \(0, 1\]/);
  });

  it('reset starts over; the streaming detector equals the offline reference', () => {
    const rows = [row('stop', 0.9), quiet(), row('go', 0.9), ...Array(4).fill(quiet()), row('stop', 0.9)];
    const d = new KeywordDetector(o);
    const streamed = rows.map((r) => d.push(r)).filter(Boolean);
    assert.deepEqual(streamed, detectKeywordsOffline(rows, o));
    d.reset();
    assert.deepEqual(d.push(row('stop', 0.9)), { word: 'stop', index: 0, score: 0.9, step: 0 });
  });
});
