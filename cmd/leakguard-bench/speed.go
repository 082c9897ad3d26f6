package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// speedCase is one row of the "how fast" matrix: a service process run at
// leakguard's default settings.
type speedCase struct {
	name string
	leak float64 // MiB per minute
	args []string
}

// serviceEvent is a line of examples/service's output.
type serviceEvent struct {
	Event    string  `json:"event"`
	Seconds  float64 `json:"seconds"`
	Function string  `json:"function"`
	Retained int64   `json:"retained_sampled"`
	Leaked   int64   `json:"leaked_bytes"`
	Samples  int     `json:"samples"`
}

// speed runs examples/service — a real Go program with leakguard started at
// its defaults — as separate processes side by side: leaks of 0.1, 1 and 10
// MiB/min, and benign services whose caches fill within the horizon, and
// reports when each leak was first suspected and alerted, and any alert on
// a benign one.
func speed(w io.Writer, short bool) error {
	duration, replicas := 30*time.Minute, 3
	var extra []string
	if short {
		// The smoke run exercises the harness: a 2 s horizon at 200 ms.
		duration, replicas = 15*time.Second, 1
		extra = []string{"-horizon", "2s", "-interval", "200ms", "-cache-fill", "1s"}
	}
	dir, err := os.MkdirTemp("", "leakguard-speed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "service")
	build := exec.Command("go", "build", "-o", bin, "github.com/leakguard/leakguard/examples/service")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building examples/service: %v: %s", err, out)
	}
	cases := []speedCase{
		{name: "leak 0.1 MiB/min", leak: 0.1},
		{name: "leak 1 MiB/min", leak: 1},
		{name: "leak 10 MiB/min", leak: 10},
		{name: "leak 1 MiB/min into one slice", leak: 1, args: []string{"-leak-into", "slice"}},
		{name: "benign: no cache"},
		{name: "benign: 64 MiB cache filling in 5 min", args: []string{"-cache-mib", "64", "-cache-fill", "5m"}},
		{name: "benign: 64 MiB cache filling in 10 min", args: []string{"-cache-mib", "64", "-cache-fill", "10m"}},
	}
	type result struct {
		events []serviceEvent
		err    error
	}
	results := make([][]result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		results[i] = make([]result, replicas)
		for r := range replicas {
			args := append([]string{"-duration", duration.String(), "-leak-mib-per-min", fmt.Sprint(c.leak)}, c.args...)
			args = append(args, extra...)
			wg.Go(func() {
				ev, err := runService(bin, args, duration+time.Minute)
				results[i][r] = result{ev, err}
			})
		}
	}
	wg.Wait()
	fmt.Fprintf(w, "## How fast: examples/service at leakguard's defaults, %d processes per row side by side, %v each\n\n", replicas, duration)
	fmt.Fprintln(w, "| Service | Suspected | Median time to suspect | Alerted | Median time to alert | Leaked when alerted | Alerts on other sites |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for i, c := range cases {
		var suspectAt, alertAt, leakedAt []float64
		var others int
		for _, r := range results[i] {
			if r.err != nil {
				return fmt.Errorf("%s: %w", c.name, r.err)
			}
			var s, a float64 = -1, -1
			for _, e := range r.events {
				leaking := strings.HasSuffix(e.Function, ".keepSession") || strings.HasSuffix(e.Function, ".keepRecord")
				switch {
				case e.Event == "alert" && !leaking:
					others++
				case e.Event == "suspect" && leaking && s < 0:
					s = e.Seconds
				case e.Event == "alert" && leaking && a < 0:
					a = e.Seconds
					leakedAt = append(leakedAt, float64(e.Leaked))
				}
			}
			if s >= 0 {
				suspectAt = append(suspectAt, s)
			}
			if a >= 0 {
				alertAt = append(alertAt, a)
			}
		}
		if c.leak == 0 {
			fmt.Fprintf(w, "| %s | – | – | – | – | – | %d |\n", c.name, others)
			continue
		}
		fmt.Fprintf(w, "| %s | %d/%d | %s | %d/%d | %s | %s | %d |\n", c.name,
			len(suspectAt), replicas, medianDuration(suspectAt), len(alertAt), replicas, medianDuration(alertAt), medianBytes(leakedAt), others)
	}
	fmt.Fprintln(w)
	return nil
}

// runService runs one service process and collects its events.
func runService(bin string, args []string, limit time.Duration) ([]serviceEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var events []serviceEvent
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var e serviceEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err == nil {
			events = append(events, e)
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return events, nil
}

func medianDuration(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	slices.Sort(v)
	return (time.Duration(v[len(v)/2] * float64(time.Second))).Round(time.Second).String()
}

func medianBytes(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	slices.Sort(v)
	return fmt.Sprintf("%.1f MiB", v[len(v)/2]/(1<<20))
}
