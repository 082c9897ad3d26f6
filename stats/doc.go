// Package stats holds the statistics leakguard decides with, as pure
// functions over counts and series, every distribution taken from gonum.
//
// The evidence test is Rise: a live count of sampled objects that rose by
// Rise over Events sampled births and deaths, tested against a
// stationary-churn null (each event a birth with probability at most ½:
// the births among m events are at most Binomial(m, ½)). A stack that only
// retains, d objects, gives p = 2^−d; MinP is the smallest p-value m events
// could ever give, which is what Tarone's correction for discrete tests
// (Tarone) reads to leave out the tests that cannot pass. RiseNeeded says
// how large a rise would have been significant.
//
// NewHighs is the evidence of an object replaced from time to time, such as
// a slice's backing array: how many of the replacements were the largest
// yet, against the records a stationary demand would set (at most
// ln((t2−t0)/(t1−t0)) between t1 and t2 on average, Poisson-bounded).
//
// SpendWeight splits an error budget over an open-ended sequence (of
// looks, or of stacks) so that the total never exceeds it, however long a
// run lasts: the basis of the detector's anytime-valid, family-wise
// guarantee.
package stats
