/**
 * CSRF protection of the console's forms. Every POST carries a token that is
 * an HMAC of the person acting and a time bucket under a per-installation
 * secret (store/meta.ts `csrfSecret`): a page of another site cannot read it
 * (the same-origin policy), a token of one person does not work for another,
 * and it expires. On top of the token, the browser's own statement of where
 * the request comes from is checked: `Sec-Fetch-Site` must be `same-origin`
 * and `Origin`, when sent, must be this server — so a web page on the same
 * laptop cannot approve a deploy through the local console either.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long one bucket lasts; a token is accepted in its bucket and the next (12 to 24 hours). */
export const CSRF_BUCKET_MS = 12 * 60 * 60 * 1000;

/** The form field that carries the token. */
export const CSRF_FIELD = 'csrf';

export interface Csrf {
  /** The token for `person` (who the console says is acting; '' for nobody) now. */
  token(person: string): string;
  /** Why `token` is not valid for `person` now, or undefined when it is. */
  problem(person: string, token: unknown): string | undefined;
}

export function createCsrf(secret: string, now: () => number): Csrf {
  const mac = (person: string, bucket: number): Buffer => createHmac('sha256', secret).update(`kmc-csrf\n${person}\n${bucket}`).digest();
  const bucketOf = (): number => Math.floor(now() / CSRF_BUCKET_MS);
  return {
    token: (person) => `${bucketOf().toString(36)}.${mac(person, bucketOf()).toString('base64url')}`,
    problem(person, token) {
      if (typeof token !== 'string' || !token) return 'the form carries no CSRF token (was it sent from this console?)';
      const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
      if (!m) return 'the form’s CSRF token is malformed';
      const bucket = parseInt(m[1]!, 36);
      const current = bucketOf();
      const given = Buffer.from(m[2]!, 'base64url');
      if (!timingSafeEqual(given, mac(person, bucket))) return 'the form’s CSRF token is not valid for the person acting (was the form made for someone else?)';
      if (bucket !== current && bucket !== current - 1) return 'the form has expired; reload the page and try again';
      return undefined;
    },
  };
}

/** What the browser says about where a request comes from. */
export interface RequestOrigin {
  /** The Host header the request was sent to (e.g. 127.0.0.1:3000). */
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
}

/**
 * Why a POST does not come from a page of this server, or undefined when it does. Browsers send
 * `Sec-Fetch-Site` and `Origin` with every POST; a client that sends neither is no browser (and
 * still needs the token, which only this server's pages carry).
 */
export function originProblem(r: RequestOrigin): string | undefined {
  if (r.secFetchSite !== undefined && r.secFetchSite !== 'same-origin') {
    return `the form was sent from another site (Sec-Fetch-Site: ${r.secFetchSite.slice(0, 40)})`;
  }
  if (r.origin !== undefined) {
    let host: string | undefined;
    try {
      host = r.origin === 'null' ? undefined : new URL(r.origin).host;
    } catch {
      host = undefined;
    }
    if (!host || !r.host || host.toLowerCase() !== r.host.toLowerCase()) {
      return `the form was sent from another origin (${r.origin.slice(0, 100)}), not from this console`;
    }
  }
  return undefined;
}
