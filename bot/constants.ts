/** Identifiers Slack sends back to us: they must not change between releases (old buttons keep them). */

/** Where Slack posts slash commands and interactions (HTTP mode). */
export const SLACK_EVENTS_PATH = '/slack/events';

/** The slash command declared in manifest.yml. */
export const SLASH_COMMAND = '/kubeapp';

/** Approval buttons; their `value` is the deploy id. */
export const ACTION_APPROVE = 'kubecontrol.approve';
export const ACTION_REJECT = 'kubecontrol.reject';

/** block_id of the approval buttons' actions block. */
export const BLOCK_APPROVAL = 'kubecontrol.approval';

/** Prefix of idempotency keys derived from Slack deliveries. */
export const IDEMPOTENCY_PREFIX = 'slack';
