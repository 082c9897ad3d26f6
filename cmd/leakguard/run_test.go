package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"help", "run"}} {
		code, out, errs := runCLI(args...)
		require.Equal(t, exitClean, code, args)
		require.Contains(t, out, "usage: leakguard run", "help goes to stdout")
		require.Contains(t, out, "not returned", "the help says whose exit status is returned")
		require.Empty(t, errs)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"run"},
		{"run", "--"},
		{"run", "--bogus", "true"},
		{"run", "--interval", "0s", "true"},
		{"run", "--format", "xml", "true"},
		{"run", "--sample-type", "inuse_objects", "true"},
		{"run", "--sample-every", "0", "true"},
		{"run", missing}, // cannot be started (or no uprobes here)
	} {
		code, out, errs := runCLI(args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errs)
		require.Empty(t, out, args)
		require.NotEmpty(t, errs, args)
	}
}
