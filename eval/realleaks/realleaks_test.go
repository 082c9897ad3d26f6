package realleaks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
)

// A leakCase is a real leak fixed in a public Go module, with a driver that
// runs the leaky and the fixed release.
type leakCase struct {
	Dir    string // driver directory: go.mod requires the fixed release, leaky.mod the leaky one
	Module string
	Leaky  string
	Fixed  string
	Fix    string // the fixing change
	Leak   string // one line
	// LeakFuncs are the library functions on the leaked objects' allocation
	// stacks: a flag whose stack holds one of them is "at the leak".
	LeakFuncs []string
	// LeakSites are library functions that allocate leaked objects
	// themselves but also call into benign allocations: a flag is at the
	// leak when one of them is its site (its first frame outside the
	// runtime), not merely on its stack.
	LeakSites []string
	Rate      string // requests per second the driver runs at
	// Guard also runs the driver under an in-process leakguard Guard; Watch
	// also runs it serving /debug/pprof to leakguard watch.
	Guard, Watch bool
}

// cases is the evaluation set.
var cases = []leakCase{
	{
		Dir: "smithylru", Module: "github.com/aws/smithy-go", Leaky: "v1.25.0", Fixed: "v1.25.1",
		Fix:       "https://github.com/aws/smithy-go/pull/652",
		Leak:      "LRU Put of an existing key pushes a new list element and keeps the old one (and its value)",
		LeakFuncs: []string{"github.com/aws/smithy-go/container/private/cache/lru.(*lru).Put"},
		Rate:      "300",
	},
	{
		Dir: "mcpsession", Module: "github.com/mark3labs/mcp-go", Leaky: "v0.43.2", Fixed: "v0.44.0",
		Fix:       "https://github.com/mark3labs/mcp-go/pull/667",
		Leak:      "Streamable HTTP DELETE leaves the session registered with the server and in the active sessions",
		LeakFuncs: []string{"github.com/mark3labs/mcp-go/server.newStreamableHttpSession"},
		Rate:      "100",
		Watch:     true,
	},
	{
		Dir: "watermill", Module: "github.com/ThreeDotsLabs/watermill", Leaky: "v1.4.7", Fixed: "v1.5.0",
		Fix:       "https://github.com/ThreeDotsLabs/watermill/pull/561",
		Leak:      "GoChannel keeps a topic (and its last subscriber) in its maps after the last subscriber leaves",
		LeakFuncs: []string{"github.com/ThreeDotsLabs/watermill/pubsub/gochannel.(*GoChannel).Subscribe"},
		Rate:      "300",
	},
	{
		Dir: "dnsconns", Module: "github.com/miekg/dns", Leaky: "v1.0.14", Fixed: "v1.0.15",
		Fix:       "https://github.com/miekg/dns/pull/808",
		Leak:      "the TCP server keeps every accepted connection in its conns map after the connection closes",
		LeakFuncs: []string{"github.com/miekg/dns.(*Server).serveTCP"},
		Rate:      "300",
		Guard:     true,
	},
	{
		Dir: "gopherlua", Module: "github.com/yuin/gopher-lua", Leaky: "v1.1.0", Fixed: "v1.1.1",
		Fix:       "https://github.com/yuin/gopher-lua/pull/438",
		Leak:      "each coroutine's child context stays registered with its state's context after the coroutine dies",
		LeakFuncs: []string{"github.com/yuin/gopher-lua.(*LState).NewThread"},
		Rate:      "300",
		Guard:     true,
	},
	{
		Dir: "sseclient", Module: "github.com/r3labs/sse/v2", Leaky: "v2.8.1", Fixed: "v2.8.2",
		Fix:       "https://github.com/r3labs/sse/pull/140",
		Leak:      "cancelling SubscribeWithContext leaves its stream-reading goroutine (reader, buffers, connection) blocked for good",
		LeakFuncs: []string{"github.com/r3labs/sse/v2.(*Client).SubscribeWithContext"},
		Rate:      "50",
		Guard:     true,
	},
	{
		Dir: "otelmeter", Module: "go.opentelemetry.io/otel", Leaky: "v1.29.0", Fixed: "v1.30.0",
		Fix:  "https://github.com/open-telemetry/opentelemetry-go/pull/5754",
		Leak: "the global Meter keeps every instrument created before a MeterProvider is set, identical ones included",
		LeakFuncs: []string{
			"go.opentelemetry.io/otel/internal/global.(*meter).Int64Counter",
			"go.opentelemetry.io/otel/internal/global.(*meter).Float64Histogram",
		},
		Rate:  "300",
		Guard: true,
	},
	{
		Dir: "fasthttpfs", Module: "github.com/valyala/fasthttp", Leaky: "v1.71.0", Fixed: "v1.72.0",
		Fix:       "https://github.com/valyala/fasthttp/pull/2286",
		Leak:      "compressing a served file takes a per-file mutex from a package-level sync.Map and never removes the entry (its path and mutex)",
		LeakFuncs: []string{"github.com/valyala/fasthttp.getFileLock"},
		// The compressed file's path, the map's key, is built there; the
		// file cache it also fills is bounded.
		LeakSites: []string{"github.com/valyala/fasthttp.(*fsHandler).compressAndOpenFSFile"},
		Rate:      "250",
		Guard:     true,
	},
	{
		Dir: "quichttp3", Module: "github.com/quic-go/quic-go", Leaky: "v0.43.1", Fixed: "v0.44.0",
		Fix:  "https://github.com/quic-go/quic-go/pull/4523",
		Leak: "both ends of an HTTP/3 connection keep every finished request stream (its send and receive halves, flow controller and buffers) in the connection's datagram map",
		LeakFuncs: []string{
			"github.com/quic-go/quic-go.newStream",
			"github.com/quic-go/quic-go.newSendStream",
			"github.com/quic-go/quic-go.newReceiveStream",
			"github.com/quic-go/quic-go/internal/flowcontrol.NewStreamFlowController",
			"github.com/quic-go/quic-go.(*frameSorter).push",
			"github.com/quic-go/quic-go/http3.newDatagrammer",
			"github.com/quic-go/quic-go/http3.(*connection).openRequestStream",
			"github.com/quic-go/quic-go/http3.(*connection).acceptStream",
		},
		Rate:  "300",
		Guard: true,
	},
}

// workspace returns the directory that keeps binaries, profiles and reports
// (the one env names, or a temporary one) and the leakguard CLI built from
// the repository into it.
func workspace(t *testing.T, env string) (work, cli string) {
	work = os.Getenv(env)
	if work == "" {
		work = t.TempDir()
	}
	work, err := filepath.Abs(work)
	require.NoError(t, err)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cli = filepath.Join(work, "bin", "leakguard")
	run(t, root, "go", "build", "-o", cli, "./cmd/leakguard")
	return work, cli
}

// flag is one alert or suspect, from the CLI's JSON or the Guard's report.
type flag struct {
	Severity     string `json:"severity"`
	ProcessTotal bool   `json:"process_total"`
	Stack        []struct {
		Function string `json:"function"`
	} `json:"stack"`
}

func (f flag) has(funcs []string) bool {
	for _, fr := range f.Stack {
		for _, fn := range funcs {
			if fr.Function == fn {
				return true
			}
		}
	}
	return false
}

// site is the flag's first frame outside the runtime and the standard
// library's containers, for the table.
func (f flag) site() string {
	for _, fr := range f.Stack {
		fn := fr.Function
		if !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/") && !strings.HasPrefix(fn, "container/") {
			return fn
		}
	}
	if len(f.Stack) > 0 {
		return f.Stack[0].Function
	}
	return "?"
}

// outcome is one row of the table.
type outcome struct {
	Case, Version, Via string
	AtLeak             string   // the highest severity flagged at the leak: alert, warning, suspect or ""
	Other              []string // flags elsewhere: severity site
	Total              string   // the process total's severity, if flagged
	Profiles           int
	Exit               int
}

var rank = map[string]int{"": 0, "suspect": 1, "warning": 2, "alert": 3}

func (o *outcome) score(flags []flag, c leakCase) {
	for _, f := range flags {
		switch {
		case f.ProcessTotal:
			o.Total = f.Severity
		case f.has(c.LeakFuncs) || slices.Contains(c.LeakSites, f.site()):
			if rank[f.Severity] > rank[o.AtLeak] {
				o.AtLeak = f.Severity
			}
		default:
			o.Other = append(o.Other, f.Severity+" "+f.site())
		}
	}
}

// TestRealLeaks runs every case's leaky and fixed release, has leakguard
// analyze their heap profiles (and, for some, watch them in-process with a
// Guard or live with leakguard watch),
// prints the table and checks the targets: every leaky release flagged at
// the leak, no fixed release flagged there.
func TestRealLeaks(t *testing.T) {
	if os.Getenv("LEAKGUARD_REALLEAKS") != "1" {
		t.Skip("set LEAKGUARD_REALLEAKS=1: downloads the modules and runs for minutes")
	}
	duration, interval, memRate := "3m", "1s", 64<<10
	if testing.Short() {
		duration, interval = "60s", "500ms"
	}
	// The short stored series users collect by hand: 60 profiles 200 ms
	// apart at the runtime's default MemProfileRate, through analyze only.
	// A leak may well carry too little evidence there: only the fixed
	// releases' silence is checked.
	series := os.Getenv("LEAKGUARD_REALLEAKS_SERIES") == "short"
	if series {
		duration, interval, memRate = "12s", "200ms", 512<<10
	}
	start := time.Now()
	work, cli := workspace(t, "LEAKGUARD_REALLEAKS_DIR")

	only := os.Getenv("LEAKGUARD_REALLEAKS_CASES") // comma-separated case directories; empty: all
	var rows []outcome
	for _, c := range cases {
		if only != "" && !slices.Contains(strings.Split(only, ","), c.Dir) {
			continue
		}
		bin := map[string]string{}
		for _, v := range []string{"leaky", "fixed"} {
			bin[v] = filepath.Join(work, "bin", c.Dir+"-"+v)
			args := []string{"build", "-o", bin[v]}
			if v == "leaky" {
				args = append(args, "-modfile=leaky.mod")
			}
			run(t, c.Dir, "go", append(args, ".")...)
		}
		type job struct{ version, via string }
		jobs := []job{{"leaky", "analyze"}, {"fixed", "analyze"}}
		if c.Guard && !series {
			jobs = append(jobs, job{"leaky", "Guard"}, job{"fixed", "Guard"})
		}
		if c.Watch && !series {
			jobs = append(jobs, job{"leaky", "watch"}, job{"fixed", "watch"})
		}
		// Two drivers at a time: the leaky and the fixed release side by side.
		for i := 0; i < len(jobs); i += 2 {
			res := make([]outcome, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for k, j := range jobs[i : i+2] {
				wg.Go(func() {
					res[k], errs[k] = drive(c, j.version, j.via, bin[j.version], cli, work, duration, interval, memRate)
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			rows = append(rows, res...)
		}
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tversion\tvia\tat the leak\tother flags\tprocess total\tprofiles\texit")
	for _, o := range rows {
		c := caseOf(o.Case)
		ver := c.Leaky
		if o.Version == "fixed" {
			ver = c.Fixed
		}
		other := "-"
		if len(o.Other) > 0 {
			other = strings.Join(o.Other, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t%s\t%d\t%s\n", o.Case, o.Version, ver, o.Via,
			dash(o.AtLeak), other, dash(o.Total), o.Profiles, exitOf(o))
	}
	tw.Flush()
	t.Logf("runs of %s, a profile every %s, MemProfileRate %d KiB; wall time %s\n%s", duration, interval, memRate>>10, time.Since(start).Round(time.Second), b.String())

	for _, o := range rows {
		if o.Version == "fixed" {
			require.Empty(t, o.AtLeak, "%s fixed (%s) flagged at the leak", o.Case, o.Via)
		} else if !testing.Short() && !series {
			require.NotEmpty(t, o.AtLeak, "%s leaky (%s) not flagged at the leak", o.Case, o.Via)
		}
	}
}

// drive runs one release's driver and scores what leakguard made of it.
func drive(c leakCase, version, via, bin, cli, work, duration, interval string, memRate int) (outcome, error) {
	o := outcome{Case: c.Dir, Version: version, Via: via}
	name := c.Dir + "-" + version
	args := []string{"-duration", duration, "-interval", interval, "-rate", c.Rate, "-memprofilerate", fmt.Sprint(memRate)}
	if via == "Guard" {
		report := filepath.Join(work, name+"-guard.json")
		if err := runE(".", bin, append(args, "-guard", report)...); err != nil {
			return o, err
		}
		var r struct {
			Report struct {
				Stats struct {
					Samples int `json:"samples"`
				} `json:"stats"`
			} `json:"report"`
			Alerts   []flag `json:"alerts"`
			Suspects []flag `json:"suspects"`
		}
		b, err := os.ReadFile(report)
		if err != nil {
			return o, err
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return o, fmt.Errorf("%s: %w", report, err)
		}
		o.Profiles, o.Exit = r.Report.Stats.Samples, -1
		o.score(r.Alerts, c)
		o.score(r.Suspects, c)
		return o, nil
	}
	if via == "watch" {
		return watch(o, c, name, bin, cli, work, duration, interval, args)
	}
	dir := filepath.Join(work, name)
	if err := os.RemoveAll(dir); err != nil {
		return o, err
	}
	if err := runE(".", bin, append(args, "-out", dir)...); err != nil {
		return o, err
	}
	return judge(o, c, dir+".json", exec.Command(cli, "analyze", "--format", "json", dir))
}

// watch runs the driver serving /debug/pprof and leakguard watch on it, for
// the driver's duration less a few seconds, at a horizon of 0.4 × duration.
func watch(o outcome, c leakCase, name, bin, cli, work, duration, interval string, args []string) (outcome, error) {
	d, err := time.ParseDuration(duration)
	if err != nil {
		return o, err
	}
	drv := exec.Command(bin, append(args, "-serve")...)
	var drvErr bytes.Buffer
	drv.Stderr = &drvErr
	stdout, err := drv.StdoutPipe()
	if err != nil {
		return o, err
	}
	if err := drv.Start(); err != nil {
		return o, err
	}
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		drv.Process.Kill()
		drv.Wait()
		return o, fmt.Errorf("%s: reading its pprof URL: %w: %s", bin, err, drvErr.String())
	}
	horizon := time.Duration(0.4 * float64(d))
	o, err = judge(o, c, filepath.Join(work, name+"-watch.json"), exec.Command(cli, "watch", "--format", "json",
		"--interval", interval, "--duration", (d-5*time.Second).String(), "--horizon", horizon.String(), "--progress", "0", strings.TrimSpace(url)))
	if werr := drv.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("%s: %w: %s", bin, werr, drvErr.String())
	}
	return o, err
}

// judge runs a leakguard command with --format json, keeps its output in
// file and scores it.
func judge(o outcome, c leakCase, file string, cmd *exec.Cmd) (outcome, error) {
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		o.Exit = exit.ExitCode()
	case err != nil:
		return o, err
	}
	// 0 clean, 1 a leak, 3 inconclusive (suspects, or too little history):
	// all verdicts; anything else is a failure to run.
	if o.Exit != 0 && o.Exit != 1 && o.Exit != 3 {
		return o, fmt.Errorf("%s: exit %d: %s", cmd, o.Exit, stderr.String())
	}
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		return o, err
	}
	var r struct {
		Profiles int    `json:"profiles"`
		Alerts   []flag `json:"alerts"`
		Suspects []flag `json:"suspects"` // when the CLI reports them
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return o, fmt.Errorf("%s: %w", cmd, err)
	}
	o.Profiles = r.Profiles
	o.score(r.Alerts, c)
	o.score(r.Suspects, c)
	return o, nil
}

func run(t *testing.T, dir, name string, args ...string) {
	require.NoError(t, runE(dir, name, args...))
}

func runE(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
func caseOf(dir string) leakCase {
	for _, c := range cases {
		if c.Dir == dir {
			return c
		}
	}
	return leakCase{}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func exitOf(o outcome) string {
	if o.Exit < 0 {
		return "-"
	}
	return fmt.Sprint(o.Exit)
}
