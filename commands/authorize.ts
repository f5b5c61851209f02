/**
 * Per-app authorisation. KubeApps name people (Slack user ids or local user
 * names) and groups (`@handle`, resolved through a GroupResolver such as
 * Slack's user groups). Owners may do everything; deployers deploy, roll back,
 * cancel, lock and upgrade; approvers approve and reject cutovers; operators
 * (`operate`: the owners, and the deployers when the KubeApp's `operators` says
 * 'owners-and-deployers') scale and restart the live app. Owning (`own`) is
 * asked where owners may do more than deployers: removing a lock someone else
 * holds without `--force`, and pausing or resuming its scheduled refreshes.
 */
import type { KubeApp } from '../kubeapps/index.js';

/** Who is asking. `id` is what is checked and recorded; `name` is what is shown. */
export interface Actor {
  readonly id: string;
  readonly name?: string;
}

/** What is known of a group right now: its members, or why they are not known. */
export type GroupMembers = { readonly known: true; readonly members: readonly string[] } | { readonly known: false; readonly reason: string };

/**
 * Resolves a group handle (without '@') to the ids of its members, from what
 * is known NOW (a cache kept warm in the background, e.g. Slack's user groups).
 * Synchronous on purpose: authorisation runs on the ack path, which waits for
 * nothing. A group not known yet answers `known: false` (the resolver starts a
 * lookup), and the person is asked to try again rather than refused.
 */
export interface GroupResolver {
  membersNow(handle: string): GroupMembers;
}

export type Role = 'deploy' | 'approve' | 'own' | 'operate';

/** The principals that hold a role on an app. */
export function holders(app: KubeApp, role: Role): readonly string[] {
  switch (role) {
    case 'deploy':
      return [...new Set([...app.owners, ...app.deployers])];
    case 'approve':
      return [...new Set([...app.owners, ...app.approvers])];
    case 'own':
      return [...new Set(app.owners)];
    // Changing the live app in place (scale, restart): its owners, and its deployers when the KubeApp says so.
    case 'operate':
      return [...new Set(app.operators === 'owners-and-deployers' ? [...app.owners, ...app.deployers] : app.owners)];
  }
}

/**
 * A group named in a KubeApp could not be resolved while checking someone who
 * is granted nothing else: whether they may act is unknown, which is not the
 * same as "no". The core answers it as `group_lookup_failed` ("try again"),
 * never as a refusal.
 */
export class GroupLookupError extends Error {
  readonly code = 'group_lookup_failed';
  /** What the resolver said, in one line (no stack), for the user's message. */
  readonly reason: string;

  constructor(
    /** The group as the KubeApp names it, with its '@': `@platform-oncall`. */
    readonly group: string,
    /** Why its members are not known, in one line. */
    reason: string,
  ) {
    super(`cannot resolve ${group}: ${reason}`);
    this.name = 'GroupLookupError';
    this.reason = reason;
  }
}

/**
 * Whether `actor` holds `role` on `app`, directly or through a group.
 * True as soon as a direct entry or a resolved group grants it. A group that
 * cannot be resolved is not taken as "not a member": if nothing else grants
 * the role and a lookup failed, this throws a `GroupLookupError` (the first
 * failure) so the refusal is not silent and wrong.
 */
export function canDo(actor: Actor, app: KubeApp, role: Role, groups?: GroupResolver): boolean {
  const entries = holders(app, role);
  if (entries.includes(actor.id)) return true;
  if (!groups) return false;
  let failed: GroupLookupError | undefined;
  for (const entry of entries) {
    if (!entry.startsWith('@')) continue;
    const group = groups.membersNow(entry.slice(1));
    if (group.known) {
      if (group.members.includes(actor.id)) return true;
    } else {
      // Keep looking: another group may still grant the role, and then the unknown one does not matter.
      failed ??= new GroupLookupError(entry, group.reason);
    }
  }
  if (failed) throw failed;
  return false;
}

/** "deployers are …" for refusal messages. */
export function describeRole(app: KubeApp, role: Role): string {
  switch (role) {
    case 'deploy':
      return `deploys need an owner (${app.owners.join(', ')}) or a deployer (${app.deployers.join(', ') || 'none'})`;
    case 'approve':
      return `cutovers need an approver (${holders(app, 'approve').join(', ')})`;
    case 'own':
      return `that needs an owner (${app.owners.join(', ')})`;
    case 'operate':
      return app.operators === 'owners-and-deployers'
        ? `scaling and restarting it need an owner (${app.owners.join(', ')}) or a deployer (${app.deployers.join(', ') || 'none'})`
        : `scaling and restarting it need an owner (${app.owners.join(', ')}); its KubeApp's operators: 'owners-and-deployers' would let its deployers too`;
  }
}
