/**
 * What profiling showed where a target is missed: written into BENCHMARKS.md beside the figures of the run
 * (the figures are the run's; these explanations are from the profiles taken while building the bench).
 */
/** What profiling the ack path showed (see BENCHMARKS.md's section 1 for the figures of the run). */
const ACK_ANALYSIS_TEXT = `
- An accepted deploy costs the server several times the floor's CPU per command (the *CPU per command* column): the floor parses, verifies and inserts one row; kubecontrol also parses the grammar, authorises, and commits the command, the deploy row (with the indexes the console's reads need) and its first event in one transaction, renders the answer with the deploy's place in line, and after the ack joins the line and posts the deploy's card to Slack (the thread reporter: one chat.postMessage and a stored thread row per deploy). At 400/s that is more than the one core a Node process has: the queue of requests grows and p99 grows with it; at 100/s it is not (compare the two tables).
- The profile of that case (self time): the SQLite commits (WAL writes of three rows and about a dozen index entries, then the reporter's thread row in its own transaction), writing the HTTP answers, the thread reporter's Web API calls (undici, p-queue, p-retry), the deploy's place in line, and garbage collection; pino's info line per command to stdout is a few percent.
- The place in line (\`deploys.ahead\`) counted every unfinished deploy of the app ahead of the new one (a count over the partial index): with the whole load on one app, thousands. It is capped now (see the commit that says so); the rest is work the accept path does by design.
- What would close the gap: post the cards of deploys accepted in a burst as one message per app and interval rather than one per deploy (the reporter already limits each thread to one round per interval, not the number of threads), and move the reporter's writes into the accept transaction; or run the Slack surface in a worker thread so the HTTP answers do not queue behind the reporter. At 100/s, the rate a whole company could plausibly reach, the table shows how far from the floor it is.`;
export const ACK_ANALYSIS = ACK_ANALYSIS_TEXT.trim().split('\n');

export const READS_ANALYSIS = `
- \`status\` and the fleet page read every app: each app's live environment, lock, unfinished deploys and drain, a handful of indexed lookups per app (≈ 0.1 ms each here), so 60 apps cost several milliseconds — every statement is on an index (see the plans), it is the number of them. One statement for all apps (the live environments, the locks and the unfinished deploys each read once, grouped in memory) would make it one read per table instead of one per app.
- A search by a broad version prefix reads every matching version from the index and sorts them by id to return the newest 25 (USE TEMP B-TREE FOR ORDER BY): thousands of rows for \`1.4*\`. An index on (version, id) would not help the order across versions; a cap on what is sorted (the newest N per prefix by id from deploys_app… ) or requiring at least a minor version would.
- Isolated p99 spikes with a p50 far below the target are the shared machine preempting the process, not the query.`.trim().split('\n');

export const RSS_ANALYSIS = `
The server is above the target before it runs a single deploy: the 200 deploys add little (the difference between the two figures). Measured at start (plain node, no tsx): importing \`@kubernetes/client-node\` adds ≈ 60 MB of RSS (≈ 120 MB under tsx), and system/compose.ts imports it at its top for one function, \`dumpYaml\`, used by the console's manifests view — so the sandbox, which never talks to Kubernetes, pays for it; tsx's loader adds ≈ 35 MB more. Loading it on first use (or rendering YAML with a small dependency) and running a compiled build instead of tsx would bring the sandbox server under 200 MB; the aws and local providers need the client anyway.`
  .trim()
  .split('\n');
