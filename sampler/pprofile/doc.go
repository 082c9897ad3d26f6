// Package pprofile turns pprof heap profiles — stored files or a live
// /debug/pprof/heap endpoint — into leakguard Samples, so that the same
// engine that runs inside a service can analyse profiles taken by anyone.
//
// Profiles are parsed with github.com/google/pprof/profile (gzipped or
// not). A stack's fingerprint hashes its symbolised frames (function, file
// and line), not its addresses, so profiles from different processes of the
// same build — replicas, restarts — line up.
package pprofile
