/**
 * How long, at most, from an owner's kill until a new owner holds the election lock and the index
 * (with a serve alive to take over). Measured takeovers are well under a second (`npm run bench`,
 * "serve takeover"; FINDINGS.md); the bound leaves room for a machine shared with many others.
 */
export const TAKEOVER_BOUND_MS = 10_000;
