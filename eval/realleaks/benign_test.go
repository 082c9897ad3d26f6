package realleaks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
)

// A benignCase is a public Go module driven as a service that does not
// leak, but whose memory grows for a while before it stays bounded, or
// churns heavily: the shapes most likely to be mistaken for a leak.
type benignCase struct {
	Dir     string // driver directory: go.mod requires the module
	Module  string
	Version string
	Shape   string // one line: what grows, and why it stops
	Rate    string // requests per second the driver runs at
	// Guard also runs the driver under an in-process leakguard Guard.
	Guard bool
}

// benignCases is the benign evaluation set.
var benignCases = []benignCase{
	{
		Dir: "ristrettocache", Module: "github.com/dgraph-io/ristretto/v2", Version: "v2.4.2",
		Shape: "a read-through cache bounded at 32 MiB fills over about a minute (keys from a space three times larger), then admits and evicts at the miss rate",
		Rate:  "300", Guard: true,
	},
	{
		Dir: "zaplog", Module: "go.uber.org/zap", Version: "v1.28.0",
		Shape: "a child logger and two JSON lines a request through pooled buffers; a ring of the last 36,000 lines fills over about a minute, then overwrites",
		Rate:  "300", Guard: true,
	},
	{
		Dir: "promlabels", Module: "github.com/prometheus/client_golang", Version: "v1.25.0",
		Shape: "per-customer counters and histograms (3,000 label values) appear as customers first call, most within 45 s, then the set stays; /metrics scraped every 2 s",
		Rate:  "300", Guard: true,
	},
	{
		Dir: "grpcsessions", Module: "google.golang.org/grpc", Version: "v1.85.0",
		Shape: "sessions with their protobuf Struct claims accumulate in an expiring LRU for their 50 s TTL, then expire as fast as they are opened",
		Rate:  "300", Guard: true,
	},
}

// benignFlag is an alert, warning or suspect with the evidence a false
// alarm is reported with.
type benignFlag struct {
	Severity     string  `json:"severity"`
	Pattern      string  `json:"pattern"`
	PValue       float64 `json:"p_value"`
	RawPValue    float64 `json:"raw_p_value"`
	Growth       float64 `json:"growth_bytes_per_second"`
	InUseBytes   int64   `json:"inuse_bytes"`
	ProcessTotal bool    `json:"process_total"`
	Stack        []struct {
		Function string `json:"function"`
		File     string `json:"file"`
		Line     int    `json:"line"`
	} `json:"stack"`
}

func (f benignFlag) String() string {
	var fns []string
	for _, fr := range f.Stack {
		fns = append(fns, fr.Function)
	}
	where := strings.Join(fns, " < ")
	if f.ProcessTotal {
		where = "process total"
	}
	return fmt.Sprintf("%s %s p=%.3g (raw %.3g) growth %.0f B/s in use %d B: %s",
		f.Severity, f.Pattern, f.PValue, f.RawPValue, f.Growth, f.InUseBytes, where)
}

// benignRow is one row of the benign table.
type benignRow struct {
	outcome
	Flagged  []benignFlag // alerts and warnings, any stack or the process total
	Suspects []benignFlag
	BySev    map[string]int // the Guard's report: stacks by the highest severity reached
}

// readFlags reads what drive stored for a run: the CLI's JSON or the
// Guard's report.
func readFlags(file string) (alerts, suspects []benignFlag, bySev map[string]int, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, nil, err
	}
	var r struct {
		Alerts   []benignFlag `json:"alerts"`
		Suspects []benignFlag `json:"suspects"`
		Report   struct {
			AlertsBySeverity map[string]int `json:"alerts_by_severity"`
		} `json:"report"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return r.Alerts, r.Suspects, r.Report.AlertsBySeverity, nil
}

// TestRealBenign runs every benign case's driver, has leakguard analyze its
// heap profiles (and, for the cases marked Guard, watch it in-process with
// a Guard), prints the table and fails if any alert or warning was raised,
// on any stack or the process total. Suspects are allowed: growth not yet
// confirmed.
func TestRealBenign(t *testing.T) {
	if os.Getenv("LEAKGUARD_REALBENIGN") != "1" {
		t.Skip("set LEAKGUARD_REALBENIGN=1: downloads the modules and runs for minutes")
	}
	duration, interval, memRate := "3m", "1s", 64<<10
	if testing.Short() {
		duration, interval = "60s", "500ms"
	}
	start := time.Now()
	work, cli := workspace(t, "LEAKGUARD_REALBENIGN_DIR")

	type job struct {
		c        leakCase
		bin, via string
	}
	var jobs []job
	only := os.Getenv("LEAKGUARD_REALBENIGN_CASES") // comma-separated case directories; empty: all
	for _, bc := range benignCases {
		if only != "" && !slices.Contains(strings.Split(only, ","), bc.Dir) {
			continue
		}
		// A leakCase without leaking functions: every flag is "other".
		c := leakCase{Dir: bc.Dir, Module: bc.Module, Fixed: bc.Version, Leak: bc.Shape, Rate: bc.Rate, Guard: bc.Guard}
		bin := filepath.Join(work, "bin", bc.Dir)
		run(t, bc.Dir, "go", "build", "-o", bin, ".")
		jobs = append(jobs, job{c, bin, "analyze"})
		if bc.Guard {
			jobs = append(jobs, job{c, bin, "Guard"})
		}
	}

	// Two drivers at a time.
	rows := make([]benignRow, len(jobs))
	for i := 0; i < len(jobs); i += 2 {
		batch := jobs[i:min(i+2, len(jobs))]
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for k, j := range batch {
			wg.Go(func() {
				o, err := drive(j.c, j.c.Fixed, j.via, j.bin, cli, work, duration, interval, memRate)
				if err != nil {
					errs[k] = err
					return
				}
				file := filepath.Join(work, j.c.Dir+"-"+j.c.Fixed+".json")
				if j.via == "Guard" {
					file = filepath.Join(work, j.c.Dir+"-"+j.c.Fixed+"-guard.json")
				}
				alerts, suspects, bySev, err := readFlags(file)
				row := benignRow{outcome: o, Suspects: suspects, BySev: bySev}
				for _, f := range alerts {
					if rank[f.Severity] >= rank["warning"] {
						row.Flagged = append(row.Flagged, f)
					}
				}
				rows[i+k], errs[k] = row, err
			})
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tmodule\tvia\talerts/warnings\tsuspects\tprocess total\tprofiles\texit")
	for _, r := range rows {
		bc := benignOf(r.Case)
		flagged := "-"
		if len(r.Flagged) > 0 {
			var s []string
			for _, f := range r.Flagged {
				site := "process total"
				if !f.ProcessTotal {
					var fl flag
					for _, fr := range f.Stack {
						fl.Stack = append(fl.Stack, struct {
							Function string `json:"function"`
						}{fr.Function})
					}
					site = fl.site()
				}
				s = append(s, f.Severity+" "+site)
			}
			flagged = strings.Join(s, "; ")
		}
		total := ""
		for _, f := range append(slices.Clone(r.Flagged), r.Suspects...) {
			if f.ProcessTotal && rank[f.Severity] > rank[total] {
				total = f.Severity
			}
		}
		fmt.Fprintf(tw, "%s\t%s@%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.Case, bc.Module, bc.Version, r.Via,
			flagged, len(r.Suspects), dash(total), r.Profiles, exitOf(r.outcome))
	}
	tw.Flush()
	t.Logf("runs of %s, a profile every %s, MemProfileRate %d KiB; wall time %s\n%s", duration, interval, memRate>>10, time.Since(start).Round(time.Second), b.String())

	for _, r := range rows {
		for _, f := range r.Flagged {
			t.Errorf("%s (%s): %s", r.Case, r.Via, f)
		}
		for sev, n := range r.BySev {
			if rank[sev] >= rank["warning"] && n > 0 {
				t.Errorf("%s (%s): the Guard's report counts %d stacks that reached %s", r.Case, r.Via, n, sev)
			}
		}
		if r.Via == "analyze" && r.Exit == 1 {
			t.Errorf("%s (analyze): exit 1, a leak", r.Case)
		}
		for _, f := range r.Suspects {
			t.Logf("%s (%s) suspect: %s", r.Case, r.Via, f)
		}
	}
}

func benignOf(dir string) benignCase {
	for _, c := range benignCases {
		if c.Dir == dir {
			return c
		}
	}
	return benignCase{}
}
