/**
 * The console's SVG charts (console/charts.ts): well-formed XML (checked by a small scanner here:
 * tags balance, attributes are quoted, entities are known, one root), accessible (role="img",
 * labelled by its <title>, described by a <desc> that says the numbers), scaled by a viewBox,
 * colours with at least 3:1 contrast on white, and every text escaped.
 */
import { describe, expect, it } from '@jest/globals';
import { deploysPerDayChart, doraCharts, durationWords, esc, leadTimeChart } from '../console/charts.js';
import { doraReport } from '../console/dora.js';
import type { DoraRow } from '../store/index.js';

interface El {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: (El | string)[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the entities of a text or attribute value; throws on an unknown or unterminated one, or a raw '<'. */
function decode(raw: string, where: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '<') throw new Error(`a raw < in ${where}`);
    if (c !== '&') {
      out += c;
      continue;
    }
    const end = raw.indexOf(';', i);
    if (end < 0) throw new Error(`an unterminated entity in ${where}`);
    const name = raw.slice(i + 1, end);
    if (name in ENTITIES) out += ENTITIES[name];
    else if (name.startsWith('#x') && name.length > 2 && [...name.slice(2)].every((d) => '0123456789abcdefABCDEF'.includes(d))) out += String.fromCodePoint(parseInt(name.slice(2), 16));
    else if (name.startsWith('#') && name.length > 1 && [...name.slice(1)].every((d) => d >= '0' && d <= '9')) out += String.fromCodePoint(Number(name.slice(1)));
    else throw new Error(`an unknown entity &${name}; in ${where}`);
    i = end;
  }
  return out;
}

const isNameChar = (c: string | undefined): boolean => !!c && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '-' || c === '_' || c === ':' || c === '.');
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r';

/** Parses a well-formed XML document without a prolog into its root element; throws on anything malformed. */
function parseXml(xml: string): El {
  let i = 0;
  const stack: El[] = [];
  let root: El | undefined;
  let text = '';
  const flush = (): void => {
    if (!text) return;
    if (stack.length) stack[stack.length - 1]!.children.push(decode(text, 'text'));
    else if (text.trim()) throw new Error('text outside the root element');
    text = '';
  };
  const name = (): string => {
    const start = i;
    while (isNameChar(xml[i])) i++;
    if (i === start) throw new Error(`a name expected at ${start}`);
    return xml.slice(start, i);
  };
  while (i < xml.length) {
    if (xml[i] !== '<') {
      text += xml[i++];
      continue;
    }
    flush();
    if (xml[i + 1] === '/') {
      i += 2;
      const n = name();
      while (isSpace(xml[i])) i++;
      if (xml[i++] !== '>') throw new Error(`</${n} not closed`);
      const open = stack.pop();
      if (!open || open.name !== n) throw new Error(`</${n}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    i++;
    const el: El = { name: name(), attrs: {}, children: [] };
    if (root && !stack.length) throw new Error('a second root element');
    for (;;) {
      const hadSpace = isSpace(xml[i]);
      while (isSpace(xml[i])) i++;
      if (xml[i] === '>' || (xml[i] === '/' && xml[i + 1] === '>')) break;
      if (!hadSpace) throw new Error(`attributes of <${el.name}> must be separated by spaces`);
      const a = name();
      if (xml[i++] !== '=') throw new Error(`${a}= expected in <${el.name}>`);
      const q = xml[i++];
      if (q !== '"' && q !== "'") throw new Error(`${a} of <${el.name}> is not quoted`);
      const end = xml.indexOf(q, i);
      if (end < 0) throw new Error(`${a} of <${el.name}> is not closed`);
      if (a in el.attrs) throw new Error(`${a} twice in <${el.name}>`);
      el.attrs[a] = decode(xml.slice(i, end), `${el.name}@${a}`);
      i = end + 1;
    }
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root = el;
    if (xml[i] === '/') i += 2;
    else {
      i++;
      stack.push(el);
    }
  }
  flush();
  if (stack.length) throw new Error(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}

const all = (el: El, name: string): El[] => [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => (typeof c === 'string' ? [] : all(c, name)))];
const textOf = (el: El): string => el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');

/** WCAG contrast ratio of a #rrggbb colour against white. */
function contrastOnWhite(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const l = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return 1.05 / (l + 0.05);
}

/** The checks every chart must pass; returns the parsed root. */
function accessible(svg: string): El {
  const root = parseXml(svg);
  expect(root.name).toBe('svg');
  expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(root.attrs.role).toBe('img');
  expect(root.attrs.viewBox).toMatch(/^0 0 \d+ \d+$/);
  expect(root.attrs.width).toBe('100%');
  expect(root.attrs.height).toBeUndefined();
  // Labelled by its own title and desc, the first two children.
  const [title, desc] = root.children as El[];
  expect([title!.name, desc!.name]).toEqual(['title', 'desc']);
  expect(root.attrs['aria-labelledby']).toBe(`${title!.attrs.id} ${desc!.attrs.id}`);
  // Every colour that carries meaning or text reads on white (3:1 for graphics, WCAG 1.4.11).
  const colours = new Set([...svg.matchAll(/(?:fill|stroke)="(#[0-9a-f]{6})"/gi)].map((m) => m[1]!.toLowerCase()));
  expect(colours.size).toBeGreaterThan(0);
  colours.delete('#ffffff');
  colours.delete('#d0d7de'); // grid lines: decoration, not information
  for (const c of colours) expect(contrastOnWhite(c)).toBeGreaterThanOrEqual(3);
  return root;
}

const desc = (root: El): string => textOf(all(root, 'desc')[0]!);

describe('the well-formedness check itself', () => {
  it.each([
    ['a tag closed by another', '<svg><g></svg>'],
    ['a tag never closed', '<svg><g>'],
    ['attributes run together', '<svg a="1"b="2"/>'],
    ['an unquoted attribute', '<svg a=1/>'],
    ['an attribute twice', '<svg a="1" a="2"/>'],
    ['an unknown entity', '<svg>&nbsp;</svg>'],
    ['a bare ampersand', '<svg>a & b</svg>'],
    ['a raw < in text', '<svg><title>a < b</title></svg>'],
    ['a raw < in an attribute', '<svg a="<"/>'],
    ['two roots', '<svg/><svg/>'],
    ['text outside the root', 'x<svg/>'],
  ])('refuses %s', (_, xml) => {
    expect(() => parseXml(xml)).toThrow();
  });

  it('reads what is well-formed', () => {
    const root = parseXml('<svg a="&lt;&#39;&#x41;"><title>x &amp; y</title><g/></svg>');
    expect(root.attrs.a).toBe("<'A");
    expect(textOf(root)).toBe('x & y');
  });
});

describe('deploys per day', () => {
  const bars = [
    { day: '2026-11-23', ok: 1, failed: 0 },
    { day: '2026-11-24', ok: 1, failed: 1 },
    { day: '2026-11-25', ok: 0, failed: 0 },
    { day: '2026-11-26', ok: 3, failed: 2 },
  ];

  it('is well-formed and accessible, and says every number in its desc', () => {
    const root = accessible(deploysPerDayChart(bars, { id: 'd', title: 'Deploys per day' }));
    expect(desc(root)).toBe(
      'Deploys per day, 2026-11-23 to 2026-11-26 (UTC): 8 deploys in all, 5 went live and 3 failed. ' +
        '2026-11-23: 1 went live; 2026-11-24: 1 went live, 1 failed; 2026-11-25: none; 2026-11-26: 3 went live, 2 failed.',
    );
    // One group per day, each with its own title; the failed part stacked above the rest.
    const groups = all(root, 'g');
    expect(groups.map((g) => textOf(all(g, 'title')[0]!))).toEqual(['2026-11-23: 1 went live', '2026-11-24: 1 went live, 1 failed', '2026-11-25: none', '2026-11-26: 3 went live, 2 failed']);
    const [ok, failed] = all(groups[3]!, 'rect');
    expect(Number(failed!.attrs.y) + Number(failed!.attrs.height)).toBeCloseTo(Number(ok!.attrs.y), 1);
    expect(failed!.attrs.fill).not.toBe(ok!.attrs.fill);
    // The tallest bar reaches the top of the axis (5 → an axis of 0…6 by 2).
    expect(all(root, 'text').map(textOf)).toEqual(expect.arrayContaining(['0', '2', '4', '6', '11-23', '11-26', 'went live', 'failed']));
  });

  it('escapes its texts', () => {
    const title = 'Deploys of <script>alert("x")</script> & \'friends\'';
    const svg = deploysPerDayChart(bars, { id: 'x"><script>', title }, { ok: '<ok>', failed: 'fail & co' });
    expect(svg).not.toContain('<script>');
    const root = accessible(svg);
    expect(textOf(all(root, 'title')[0]!)).toBe(title);
    expect(desc(root)).toContain('2026-11-24: 1 <ok>, 1 fail & co');
    expect(root.attrs['aria-labelledby']).toBe('x---script--title x---script--desc');
  });

  it('says when there is nothing to show', () => {
    const root = accessible(deploysPerDayChart([], { id: 'e', title: 'Deploys per day' }));
    expect(desc(root)).toBe('Deploys per day: no days to show.');
  });
});

describe('lead time per day', () => {
  const MIN = 60_000;
  const points = [
    { day: '2026-11-23', ms: 60 * MIN },
    { day: '2026-11-24', ms: 25 * MIN },
    { day: '2026-11-25', ms: 37.5 * MIN },
    { day: '2026-11-26', ms: null },
    { day: '2026-11-27', ms: 15 * MIN },
  ];

  it('is well-formed and accessible, breaks the line on days without deploys, and says each day', () => {
    const root = accessible(leadTimeChart(points, { id: 'lt', title: 'Median lead time per day' }));
    expect(desc(root)).toBe(
      'Median lead time per day, 2026-11-23 to 2026-11-27 (UTC), from 15 min to 1 h. ' +
        '2026-11-23: 1 h; 2026-11-24: 25 min; 2026-11-25: 38 min; 2026-11-26: no deploys; 2026-11-27: 15 min.',
    );
    // Three days in a row make one line; the lone day after the gap is a dot alone.
    expect(all(root, 'polyline')).toHaveLength(1);
    expect(all(root, 'polyline')[0]!.attrs.points!.split(' ')).toHaveLength(3);
    expect(all(root, 'circle').map((c) => textOf(c))).toEqual(['2026-11-23: 1 h', '2026-11-24: 25 min', '2026-11-25: 38 min', '2026-11-27: 15 min']);
    // The axis ends at a round duration above the highest value.
    expect(all(root, 'text').map(textOf)).toEqual(expect.arrayContaining(['0', '30 min', '1 h']));
  });

  it('says when no deploy went live', () => {
    const root = accessible(leadTimeChart([{ day: '2026-11-23', ms: null }], { id: 'n', title: 'Lead time' }));
    expect(desc(root)).toBe('Lead time, 2026-11-23 to 2026-11-23 (UTC): no deploys went live, so there is no lead time to show.');
  });

  it('durations in words', () => {
    expect([40_000, 90_000, 45 * MIN, 60 * MIN, 125 * MIN, 27 * 60 * MIN, 48 * 60 * MIN].map(durationWords)).toEqual(['40 s', '2 min', '45 min', '1 h', '2 h 5 min', '1 d 3 h', '2 d']);
    expect(esc(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  });
});

describe('the DORA page’s charts', () => {
  it('come from a report: changes that held and failed per day, median lead time per day', () => {
    const T = Date.UTC(2026, 10, 23);
    const H = 3_600_000;
    const row = (id: number, state: DoraRow['state'], created: number, finished: number): DoraRow => ({
      id, app: 'web <&>', version: `v${id}`, kind: 'deploy', strategy: 'rolling', state, requestedBy: 'carol', createdAt: created, finishedAt: finished, cutoverAt: null,
    });
    const report = doraReport('web <&>', T, T + 3 * 24 * H, [
      row(1, 'succeeded', T + 9 * H, T + 10 * H),
      row(2, 'failed', T + 24 * H, T + 25 * H),
      row(3, 'succeeded', T + 26 * H, T + 28 * H),
    ]);
    const { deploys, leadTime } = doraCharts(report);
    expect(desc(accessible(deploys))).toBe(
      'Deploys of web <&> per day, 2026-11-23 to 2026-11-25 (UTC): 3 deploys in all, 2 went live and 1 failed. 2026-11-23: 1 went live; 2026-11-24: 1 went live, 1 failed; 2026-11-25: none.',
    );
    expect(desc(accessible(leadTime))).toBe(
      'Median lead time of web <&> per day (request to live), 2026-11-23 to 2026-11-25 (UTC), from 1 h to 2 h. 2026-11-23: 1 h; 2026-11-24: 2 h; 2026-11-25: no deploys.',
    );
  });
});
