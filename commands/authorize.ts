/**
 * Per-app authorisation. KubeApps name people (Slack user ids or local user
 * names) and groups (`@handle`, resolved through a GroupResolver such as
 * Slack's user groups). Owners may do everything; deployers deploy, roll back,
 * cancel and lock; approvers approve and reject cutovers.
 */
import type { KubeApp } from '../kubeapps/index.js';

/** Who is asking. `id` is what is checked and recorded; `name` is what is shown. */
export interface Actor {
  readonly id: string;
  readonly name?: string;
}

/** Resolves a group handle (without '@') to the ids of its members. */
export interface GroupResolver {
  members(handle: string): Promise<readonly string[]>;
}

export type Role = 'deploy' | 'approve';

/** The principals that hold a role on an app. */
export function holders(app: KubeApp, role: Role): readonly string[] {
  return role === 'deploy' ? [...new Set([...app.owners, ...app.deployers])] : [...new Set([...app.owners, ...app.approvers])];
}

/** Whether `actor` holds `role` on `app`, directly or through a group. */
export async function canDo(actor: Actor, app: KubeApp, role: Role, groups?: GroupResolver): Promise<boolean> {
  const entries = holders(app, role);
  if (entries.includes(actor.id)) return true;
  if (!groups) return false;
  for (const entry of entries) {
    if (!entry.startsWith('@')) continue;
    try {
      if ((await groups.members(entry.slice(1))).includes(actor.id)) return true;
    } catch {
      // A group that cannot be resolved grants nothing; the refusal names who can act.
    }
  }
  return false;
}

/** "deployers are …" for refusal messages. */
export function describeRole(app: KubeApp, role: Role): string {
  return role === 'deploy'
    ? `deploys need an owner (${app.owners.join(', ')}) or a deployer (${app.deployers.join(', ') || 'none'})`
    : `cutovers need an approver (${holders(app, 'approve').join(', ')})`;
}
