// Package pprofile turns pprof profiles — stored files or a live
// /debug/pprof endpoint — into leakguard Samples, so that the same engine
// that runs inside a service can analyse profiles taken by anyone.
//
// Heap profiles (inuse_space/inuse_objects sample types) become
// sampler.Heap samples, one record per allocation stack; goroutine
// profiles (one goroutine/count sample type) become sampler.Goroutines
// samples, one record per creation site, as sampler/goroutine reads them
// in-process. The kind is told by the profile's own sample types. The
// debug=0 (protobuf) format is the one to collect; Open also reads the
// debug=1 text format, which has no timestamp (the file's modification
// time stands in) and whose symbols, in the comment lines the runtime
// writes beside each address, the pprof parser skips: they are read here,
// so that its stacks are named as in the protobuf. A series must follow one process in snapshots: delta
// profiles (ErrDelta), a restart and a change of sampling rate are
// refused by Open; HTTP starts a new Epoch at a restart and fails with
// ErrRateChanged at a new rate.
//
// Profiles are parsed with github.com/google/pprof/profile (gzipped or
// not), decompressed here within a size limit (DefaultMaxProfileSize) so
// that a decompression bomb is refused within bounded memory. A stack's
// fingerprint hashes its symbolised frames (function, file and line), not
// its addresses, so profiles from different processes of the same build —
// replicas, restarts — line up.
package pprofile
