/** Personal API tokens, stored as SHA-256 hashes only. */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** What a person's name may be made of: as KubeApps name people (`alice`, `U0ALICE01`, `first.last@corp`). */
export const PERSON_NAME = /^[\w.@-]+$/;

/** Why `person` cannot be a token's person (empty, spaces, other characters), or undefined. */
export function personNameProblem(person: string): string | undefined {
  if (!person.trim()) return 'a token needs a person: name them as the KubeApps do (e.g. carol, or a Slack id like U0ALICE01)';
  if (PERSON_NAME.test(person)) return undefined;
  const bad = [...new Set([...person].filter((c) => !/[\w.@-]/.test(c)))].map((c) => (/\s/.test(c) ? 'spaces' : `“${c}”`));
  return `${JSON.stringify(person)} is not a person's name: it has ${bad.join(', ')}; names are letters, digits and _ . @ - (as the KubeApps name people)`;
}

/** A token as an administrator sees it: who, which, when; never the token or its hash. */
export interface TokenInfo {
  readonly id: number;
  readonly person: string;
  readonly label: string | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

export class TokensRepo {
  private readonly findStmt;
  private readonly touchStmt;

  constructor(private readonly db: Db) {
    this.findStmt = db.prepare('SELECT id, person FROM tokens WHERE hash = ? AND revoked_at IS NULL');
    this.touchStmt = db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?');
  }

  /** Creates a token for `person`; the plain token is returned once and never stored. Throws for a name no person can have. */
  create(person: string, label?: string, now = Date.now()): string {
    const problem = personNameProblem(person);
    if (problem) throw new Error(problem);
    const token = `kc_${randomBytes(24).toString('base64url')}`;
    this.db.prepare('INSERT INTO tokens (person, hash, label, created_at) VALUES (?, ?, ?, ?)').run(person, hash(token), label ?? null, now);
    return token;
  }

  /** The person a token belongs to, or undefined if unknown or revoked. */
  verify(token: string, now = Date.now()): string | undefined {
    const row = this.findStmt.get(hash(token)) as { id: number; person: string } | undefined;
    if (!row) return undefined;
    this.touchStmt.run(now, row.id);
    return row.person;
  }

  /** Every token, revoked ones included (an audit wants both), oldest first; optionally only `person`'s. */
  list(person?: string): TokenInfo[] {
    const columns = 'id, person, label, created_at AS createdAt, last_used_at AS lastUsedAt, revoked_at AS revokedAt';
    return (
      person === undefined
        ? this.db.prepare(`SELECT ${columns} FROM tokens ORDER BY id`).all()
        : this.db.prepare(`SELECT ${columns} FROM tokens WHERE person = ? ORDER BY id`).all(person)
    ) as TokenInfo[];
  }

  /** Revokes every token of `person`; returns how many. */
  revoke(person: string, now = Date.now()): number {
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE person = ? AND revoked_at IS NULL').run(now, person).changes;
  }
}
