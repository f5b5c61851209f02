/** The terminal rendering of error results: every ErrorCode is placed, a failed group lookup is not shown as a refusal. */
import { describe, expect, it } from '@jest/globals';
import { errorMark, renderResult } from '../cli/render.js';
import type { CommandResult } from '../commands/results.js';

describe('CLI error rendering', () => {
  it('marks a failed group lookup as worth a retry, and the rest as before', () => {
    const message = "Couldn't check your group membership for search-svc (@platform-oncall: ratelimited); try again.";
    const result: CommandResult = { kind: 'error', status: 'error', code: 'group_lookup_failed', message, commandId: 7, verb: 'deploy' };
    // NO_COLOR or not a terminal under jest: the marks are plain.
    expect(renderResult(result)).toBe(`! ${message}`);
    expect(renderResult({ ...result, code: 'forbidden', status: 'refused', message: 'no' })).toBe('✗ no');
    expect(errorMark('infrastructure')).toBe('✗');
  });
});
