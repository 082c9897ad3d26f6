package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBench runs the whole evaluation: reduced under -short (as CI runs
// it), in full otherwise. It checks the run completes and prints every
// table; the numbers themselves are the README's, not assertions.
func TestBench(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, testing.Short(), ""))
	for _, heading := range []string{"## Accuracy", "## Stored series", "## Overhead", "## Analysis cost", "## Memory bound", "**overall**"} {
		require.Contains(t, out.String(), heading)
	}
	if testing.Short() {
		require.Contains(t, out.String(), smokeBanner, "a reduced run says it is no result")
		require.Equal(t, 4, strings.Count(out.String(), smokeNote), "after every section")
	} else {
		require.NotContains(t, out.String(), "smoke run")
	}
	t.Log("\n" + out.String())
}

func TestOnlyRejectsUnknownSection(t *testing.T) {
	var out bytes.Buffer
	require.ErrorContains(t, run(&out, true, "bogus"), "want one of")
}

// TestSpeedSmoke runs the "how fast" harness end to end in its reduced
// form: real service processes, a 2 s horizon, 15 s.
func TestSpeedSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, true, "speed"))
	require.Contains(t, out.String(), "| leak 10 MiB/min |")
	require.Contains(t, out.String(), "| benign: no cache | – | – | – | – | – | 0 |", "no alert on a benign service")
}
