/**
 * Who is using the console, by mode (KUBECONTROL_AUTH):
 *
 * - `local`: unauthenticated, on loopback only (system/config.ts). The person is chosen in the page
 *   ("acting as", the browser's `--as`) from the people the KubeApps name, and kept in an
 *   `HttpOnly; SameSite=Strict` cookie. Every page says so. A request whose Host is not a loopback
 *   name is refused: a DNS-rebinding page would otherwise be same-origin with the console.
 * - `proxy`: the person is the auth proxy's (oauth2-proxy's) `X-Forwarded-Email` / `X-Forwarded-User`,
 *   mapped to a person by KUBECONTROL_PROXY_PEOPLE, and only when the request comes from one of
 *   KUBECONTROL_PROXY_ADDRESSES. An identity header from anywhere else is refused (and recorded).
 * - `token`: bearer tokens are for the CLI; a browser cannot be identified, so the console answers
 *   401 with how to put it behind a proxy.
 */
import { BlockList, isIP } from 'node:net';
import type { ProxySettings } from '../system/config.js';

export type ConsoleMode = 'local' | 'token' | 'proxy';

/** The cookie that keeps "acting as" in local mode. */
export const ACTING_AS_COOKIE = 'kmc_as';

/** The identity headers oauth2-proxy sets, in the order they are read. */
export const PROXY_HEADERS = ['x-forwarded-email', 'x-forwarded-user'] as const;

/** Who is acting, as established for one request. */
export interface ConsoleIdentity {
  readonly mode: ConsoleMode;
  /** The person the KubeApps name who acts; null in local mode until someone is chosen. */
  readonly person: string | null;
  /** Verified by an auth proxy (proxy mode), not merely chosen (local mode). */
  readonly authenticated: boolean;
  /** The identity the proxy sent (e.g. alice@corp.example), in proxy mode. */
  readonly proxyIdentity?: string;
  /** The host the browser addressed (for the Origin check): the Host header, or the proxy's X-Forwarded-Host. */
  readonly host: string | undefined;
}

/** Why a request was not given an identity: an HTTP status, a stable code, a sentence, and whether it is a refusal to record. */
export interface IdentityRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Someone claimed an identity they could not have (a header from a non-proxy address, an unmapped identity, a foreign Host). */
  readonly record: boolean;
  /** What was claimed, for the record's actor ('anonymous' otherwise). */
  readonly claimed?: string;
}

/** The parts of a request identity needs (so it is testable without a server). */
export interface IdentityRequest {
  readonly remoteAddress: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface IdentityOptions {
  readonly mode: ConsoleMode;
  readonly proxy?: ProxySettings;
  /** The people the console may act as in local mode (the KubeApps' named people and the admins). */
  readonly people: readonly string[];
}

export interface Identify {
  (request: IdentityRequest): { ok: true; identity: ConsoleIdentity } | { ok: false; refusal: IdentityRefusal };
  /** The people "acting as" offers (local mode). */
  readonly people: readonly string[];
  readonly mode: ConsoleMode;
}

function header(request: IdentityRequest, name: string): string | undefined {
  const v = request.headers[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.trim();
}

/** The value of one cookie of a Cookie header. */
export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value that makes `person` the one acting (local mode); null clears it. */
export function actingAsCookie(person: string | null): string {
  const base = `${ACTING_AS_COOKIE}=${person ? encodeURIComponent(person) : ''}; Path=/; HttpOnly; SameSite=Strict`;
  return person ? base : `${base}; Max-Age=0`;
}

/** A Host header that names this machine's loopback: localhost, 127.x.x.x or [::1], with any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.toLowerCase().replace(/:\d{1,5}$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** An IPv4 address as it arrives on an IPv6 socket (::ffff:10.0.0.5) becomes plain IPv4. */
function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** Whether `address` is one of the proxy's (IPs and CIDRs as KUBECONTROL_PROXY_ADDRESSES lists them). */
export function addressMatcher(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [ip, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(plainAddress(ip), type);
    else list.addSubnet(ip, Number(bits), type);
  }
  return (address) => {
    if (!address) return false;
    const a = plainAddress(address);
    const version = isIP(a);
    return version !== 0 && list.check(a, version === 6 ? 'ipv6' : 'ipv4');
  };
}

/** Builds the console's identification for a mode. */
export function createIdentify(options: IdentityOptions): Identify {
  const people = [...new Set(options.people)].sort((a, b) => a.localeCompare(b));
  const known = new Set(people);
  const fromProxy = addressMatcher(options.proxy?.addresses ?? []);
  const claimedIdentity = (request: IdentityRequest): { header: string; value: string } | undefined => {
    for (const name of PROXY_HEADERS) {
      const value = header(request, name);
      if (value) return { header: name, value };
    }
    return undefined;
  };

  const identify = (request: IdentityRequest): { ok: true; identity: ConsoleIdentity } | { ok: false; refusal: IdentityRefusal } => {
    const host = header(request, 'host');
    const claimed = claimedIdentity(request);
    const refuse = (refusal: IdentityRefusal): { ok: false; refusal: IdentityRefusal } => ({ ok: false, refusal });
    switch (options.mode) {
      case 'local': {
        if (!isLoopbackHost(host)) {
          return refuse({
            status: 403,
            code: 'not_loopback',
            message: `the local console answers only at a loopback address (localhost, 127.0.0.1, [::1]); this request was addressed to ${JSON.stringify((host ?? '').slice(0, 100))}`,
            record: true,
          });
        }
        const chosen = cookieValue(header(request, 'cookie'), ACTING_AS_COOKIE);
        // A cookie naming someone the KubeApps no longer name acts as nobody.
        const person = chosen && known.has(chosen) ? chosen : null;
        return { ok: true, identity: { mode: 'local', person, authenticated: false, host } };
      }
      case 'token':
        return refuse({
          status: 401,
          code: 'console_needs_proxy',
          message: 'this kubecontrol server uses API tokens (KUBECONTROL_AUTH=token), which a browser cannot send; the console needs an auth proxy in front of it (KUBECONTROL_AUTH=proxy)',
          record: false,
        });
      case 'proxy': {
        const address = request.remoteAddress;
        if (!fromProxy(address)) {
          if (claimed) {
            return refuse({
              status: 403,
              code: 'not_from_proxy',
              message: `an identity header (${claimed.header}: ${claimed.value.slice(0, 100)}) came from ${address ?? 'an unknown address'}, which is not the auth proxy (KUBECONTROL_PROXY_ADDRESSES); it is not trusted`,
              record: true,
              claimed: claimed.value.slice(0, 100),
            });
          }
          return refuse({
            status: 401,
            code: 'sign_in_through_proxy',
            message: 'the console is reached through the auth proxy, which signs you in; this request did not come through it',
            record: false,
          });
        }
        if (!claimed) {
          return refuse({
            status: 401,
            code: 'proxy_sent_no_identity',
            message: 'the auth proxy sent no identity (X-Forwarded-Email or X-Forwarded-User); configure it to pass them (oauth2-proxy: --set-xauthrequest or --pass-user-headers)',
            record: false,
          });
        }
        const person = options.proxy?.people.get(claimed.value.toLowerCase());
        if (!person) {
          return refuse({
            status: 403,
            code: 'unmapped_identity',
            message: `${claimed.value.slice(0, 100)} signed in, but is not one of the people kubecontrol knows: an operator maps it in KUBECONTROL_PROXY_PEOPLE (IDENTITY=PERSON)`,
            record: true,
            claimed: claimed.value.slice(0, 100),
          });
        }
        const forwardedHost = header(request, 'x-forwarded-host');
        return { ok: true, identity: { mode: 'proxy', person, authenticated: true, proxyIdentity: claimed.value, host: forwardedHost || host } };
      }
    }
  };
  return Object.assign(identify, { people, mode: options.mode });
}
