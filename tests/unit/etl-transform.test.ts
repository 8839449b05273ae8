import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { parseLinkHeader, pageUrl } from '../../src/features/etl/extract.ts';
import { MAX_BODY_LENGTH, MAX_TITLE_LENGTH } from '../../src/features/etl/model.ts';
import { collapseWhitespace, MAX_RAW_CHARS, transformRecords } from '../../src/features/etl/transform.ts';

const loadedAt = '2026-11-23T10:00:00.000Z';
const good = { userId: 1, id: 1, title: 'a title', body: 'a body' };
const one = (record: unknown) => transformRecords([record], { loadedAt });

describe('collapseWhitespace', () => {
  test.each([
    ['plain text', 'plain text'],
    ['  padded  ', 'padded'],
    ['line one\nline two', 'line one line two'],
    ['tabs\tand\r\nCRLF', 'tabs and CRLF'],
    ['many    spaces \n\n here', 'many spaces here'],
    ['non\u00a0breaking\u2003spaces', 'non breaking spaces'],
    ['\n\t ', ''],
    ['', ''],
  ])('turns %j into %j', (input, expected) => {
    expect(collapseWhitespace(input)).toBe(expected);
  });

  test('agrees with trim + replace(/\\s+/g, " ") on any mix of words and whitespace', () => {
    const piece = fc.constantFrom('a', 'word', ' ', '  ', '\n', '\t', '\r\n', '\u00a0', '\u2003', '\u3000', '\ufeff', '\v', 'é', '😀');
    fc.assert(fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
      const s = parts.join('');
      expect(collapseWhitespace(s)).toBe(s.trim().replace(/\s+/g, ' '));
    }), { numRuns: 2000 });
  });
});

describe('transformRecords', () => {
  test('a valid record becomes a post with snake_case fields and the run stamp', () => {
    expect(one(good)).toEqual({ posts: [{ id: 1, user_id: 1, title: 'a title', body: 'a body', loaded_at: loadedAt }], rejected: [] });
  });

  test('text fields are trimmed and their whitespace collapsed', () => {
    const { posts } = one({ ...good, title: '  spaced \t out  ', body: 'first line\nsecond  line\n' });
    expect(posts[0]).toMatchObject({ title: 'spaced out', body: 'first line second line' });
  });

  test('fields the post does not use are ignored', () => {
    expect(one({ ...good, extra: { nested: true } }).posts).toHaveLength(1);
  });

  test.each([
    ['"7"', '7', 7],
    ['" 42 "', ' 42 ', 42],
    ['a 15-digit string', '123456789012345', 123456789012345],
  ])('a string id %s is converted to an integer', (_, id, expected) => {
    const { posts, rejected } = one({ ...good, id, userId: String(expected) });
    expect(rejected).toEqual([]);
    expect(posts[0]).toMatchObject({ id: expected, user_id: expected });
    expect(typeof posts[0]!.id).toBe('number');
  });

  test.each([
    ['missing title', { userId: 1, id: 1, body: 'b' }, 'title is missing'],
    ['missing body', { userId: 1, id: 1, title: 't' }, 'body is missing'],
    ['missing id', { userId: 1, title: 't', body: 'b' }, 'id is missing'],
    ['title null', { ...good, title: null }, 'title must be a string of at most 1000 characters; got null'],
    ['title a number', { ...good, title: 12 }, 'title must be a string of at most 1000 characters; got 12'],
    ['a non-numeric string id', { ...good, id: 'abc' }, 'id must be a positive integer, or a string of digits; got "abc"'],
    ['id zero', { ...good, id: 0 }, 'id must be a positive integer, or a string of digits; got 0'],
    ['a negative id', { ...good, id: -3 }, 'id must be a positive integer, or a string of digits; got -3'],
    ['a fractional id', { ...good, id: 1.5 }, 'id must be a positive integer, or a string of digits; got 1.5'],
    ['a string id "0"', { ...good, id: '0' }, 'id must be a positive integer, or a string of digits; got "0"'],
    ['userId a boolean', { ...good, userId: true }, 'userId must be a positive integer, or a string of digits; got true'],
    ['a title of only spaces', { ...good, title: ' \n\t ' }, 'title is empty once whitespace is trimmed'],
    ['an oversized title', { ...good, title: 'x'.repeat(MAX_TITLE_LENGTH + 1) }, `title must be a string of at most ${MAX_TITLE_LENGTH} characters; got a string of ${MAX_TITLE_LENGTH + 1} characters`],
    ['an oversized body', { ...good, body: 'y'.repeat(MAX_BODY_LENGTH + 1) }, `body must be a string of at most ${MAX_BODY_LENGTH} characters; got a string of ${MAX_BODY_LENGTH + 1} characters`],
    ['null', null, 'record must be a JSON object; got null'],
    ['an array', [1, 2], 'record must be a JSON object; got an array'],
    ['a string', 'post', 'record must be a JSON object; got "post"'],
  ])('a record with %s is rejected with its reason and raw JSON', (_, record, reason) => {
    const { posts, rejected } = one(record);
    expect(posts).toEqual([]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBe(reason);
    expect(rejected[0]!.position).toBe(0);
    if (JSON.stringify(record).length <= MAX_RAW_CHARS) expect(JSON.parse(rejected[0]!.raw)).toEqual(record);
  });

  test('a huge rejected record keeps only the start of its raw JSON, and says so', () => {
    const { rejected } = one({ ...good, body: 'y'.repeat(MAX_BODY_LENGTH + 1) });
    expect(rejected[0]!.raw.length).toBeLessThan(MAX_RAW_CHARS + 100);
    expect(rejected[0]!.raw).toContain('(cut, ');
  });

  test('positions count from the first record of the page, so pages continue the numbering', () => {
    const { rejected } = transformRecords([good, { id: 2 }], { loadedAt, firstPosition: 100 });
    expect(rejected[0]!.position).toBe(101);
  });

  test('an id seen earlier in the same run is rejected, also across pages, and the first one kept', () => {
    const seen = new Map<number, number>();
    const first = transformRecords([good, { ...good, id: 2 }], { loadedAt, seen });
    const second = transformRecords([{ ...good, id: '2', title: 'again' }], { loadedAt, seen, firstPosition: 2 });
    expect(first.posts.map((p) => p.id)).toEqual([1, 2]);
    expect(second.posts).toEqual([]);
    expect(second.rejected[0]).toMatchObject({ position: 2, reason: 'id 2 appears again (first at position 1); the first one is kept' });
  });

  test('good and bad records in one page: every record ends up either loaded or rejected', () => {
    const records = [good, { id: 2 }, { ...good, id: 3 }, 'x', { ...good, id: '4' }];
    const { posts, rejected } = transformRecords(records, { loadedAt });
    expect(posts.map((p) => p.id)).toEqual([1, 3, 4]);
    expect(rejected.map((r) => r.position)).toEqual([1, 3]);
    expect(posts.length + rejected.length).toBe(records.length);
  });
});

describe('pagination helpers', () => {
  test('parseLinkHeader reads the rel of each link, GitHub and json-server style', () => {
    const header = '<http://h/posts?_page=1&_limit=10>; rel="first", <http://h/posts?_page=2&_limit=10>; rel="next", <http://h/posts?_page=10&_limit=10>; rel="last"';
    expect(parseLinkHeader(header)).toEqual({ first: 'http://h/posts?_page=1&_limit=10', next: 'http://h/posts?_page=2&_limit=10', last: 'http://h/posts?_page=10&_limit=10' });
    expect(parseLinkHeader('</p?page=3>; title="x"; rel=next')).toEqual({ next: '/p?page=3' });
    expect(parseLinkHeader('<a>; rel="prev next"')).toEqual({ prev: 'a', next: 'a' });
    expect(parseLinkHeader(null)).toEqual({});
    expect(parseLinkHeader('garbage')).toEqual({});
  });

  test('pageUrl adds _page and _limit to the source URL, keeping its own query', () => {
    expect(pageUrl('http://h/posts?userId=1', 2, 50)).toBe('http://h/posts?userId=1&_page=2&_limit=50');
    expect(pageUrl('http://h/posts', 1, 0)).toBe('http://h/posts');
  });
});
