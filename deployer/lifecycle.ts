/**
 * The deploy lifecycle as the pipeline uses it: the declared table of states
 * and legal transitions (enforced by the store, see store/lifecycle.ts) and the
 * strategies' ordered phases (deployer/strategies).
 */
export { LIFECYCLE, IllegalTransition, assertTransition, CANCELLABLE } from '../store/lifecycle.js';
export { STRATEGIES, type Phase, type Strategy } from './strategies/index.js';
