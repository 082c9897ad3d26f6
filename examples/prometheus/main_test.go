package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leakguard/leakguard"
)

// serviceEnv makes the test binary run the example service instead of its
// tests: the replicas are this binary, so each has its own heap without a
// separate build.
const serviceEnv = "LEAKGUARD_EXAMPLE_SERVICE"

// requireEnv is the variable CI sets so that a missing Prometheus fails the
// run instead of skipping the tests that prove the rules fire.
const requireEnv = "LEAKGUARD_REQUIRE_PROMETHEUS"

func TestMain(m *testing.M) {
	if os.Getenv(serviceEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// tool finds a Prometheus binary: skipped where it is not installed, a
// failure under LEAKGUARD_REQUIRE_PROMETHEUS=1.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		reason := name + " is not on PATH (Debian: apt-get install prometheus)"
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s, and %s=1 forbids skipping", reason, requireEnv)
		}
		t.Skip(reason)
	}
	return path
}

// TestRules checks the rules file and the scrape config with promtool, and
// runs the rules' unit tests (leakguard.rules_test.yml).
func TestRules(t *testing.T) {
	promtool := tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "leakguard.rules.yml"},
		{"test", "rules", "leakguard.rules_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		require.Contains(t, string(out), "SUCCESS", "promtool %s", strings.Join(args, " "))
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// TestDashboard checks that the Grafana dashboard parses and plots the
// per-site gauges; TestFleetAlerts runs its queries on a real server.
func TestDashboard(t *testing.T) {
	exprs := ""
	for _, p := range readDashboard(t).Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, target.Expr, p.Title)
			exprs += target.Expr + "\n"
		}
	}
	require.Contains(t, exprs, "leakguard_leak_growth_bytes_per_second")
	require.Contains(t, exprs, "leakguard_leak_inuse_bytes")
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("dashboard.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d))
	return d
}

// The replicas are started by re-running this test binary: the leaking
// function is named as this binary names it.
func leakingFunction() string {
	return runtime.FuncForPC(reflect.ValueOf(handleRequest).Pointer()).Name()
}

// TestFleetAlerts runs three replicas of the example service on loopback —
// two leaking, one clean — and a real Prometheus server scraping them with
// leakguard.rules.yml loaded, and asks Prometheus's HTTP API which alerts
// fire.
func TestFleetAlerts(t *testing.T) {
	began := time.Now()
	server := tool(t, "prometheus")
	promtool := tool(t, "promtool")
	leakFn := leakingFunction()

	leaky := []string{startReplica(t, true), startReplica(t, true)}
	clean := startReplica(t, false)
	rules, err := filepath.Abs("leakguard.rules.yml")
	require.NoError(t, err)
	config := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: checkout
    static_configs:
      - targets: [%q, %q, %q]
`, rules, leaky[0], leaky[1], clean), 0o644))
	api := startPrometheus(t, server, config)

	// Poll until Prometheus has evaluated the rules on the flagged leaks,
	// and the clean replica has been analysed as long as a leak needs to be
	// flagged: 48 samples, well past its 2 s horizon.
	type state struct {
		fleet, leak  []promAlert
		leaks, limit map[string]bool
		cleanSamples float64
	}
	observe := func() state {
		s := state{leaks: map[string]bool{}, limit: map[string]bool{}}
		for _, a := range api.alerts(t) {
			if a.State != "firing" {
				continue
			}
			switch a.Labels["alertname"] {
			case "LeakguardFleetLeak":
				if a.Labels["function"] == leakFn {
					s.fleet = append(s.fleet, a)
				}
			case "LeakguardLeak":
				if a.Labels["function"] == leakFn {
					s.leaks[a.Labels["instance"]] = true
					s.leak = append(s.leak, a)
				}
			case "LeakguardMemoryLimitSoon":
				s.limit[a.Labels["instance"]] = true
			}
		}
		for _, r := range api.query(t, fmt.Sprintf(`leakguard_samples_total{instance=%q}`, clean)) {
			s.cleanSamples = r.value(t)
		}
		return s
	}
	var s state
	deadline := began.Add(100 * time.Second)
	for tick := time.NewTicker(500 * time.Millisecond); ; <-tick.C {
		s = observe()
		if len(s.fleet) > 0 && s.leaks[leaky[0]] && s.leaks[leaky[1]] && s.limit[leaky[0]] && s.limit[leaky[1]] &&
			s.cleanSamples >= 48 {
			tick.Stop()
			break
		}
		if time.Now().After(deadline) {
			tick.Stop()
			b, _ := json.MarshalIndent(api.alerts(t), "", "  ")
			require.FailNow(t, "the rules did not fire in time", "state %+v\nalerts: %s", s, b)
		}
	}
	t.Logf("alerts firing after %v", time.Since(began).Round(time.Second))

	require.Len(t, s.fleet, 1)
	fleet := s.fleet[0]
	require.Equal(t, "checkout", fleet.Labels["job"])
	require.Equal(t, "heap", fleet.Labels["resource"])
	replicas, err := strconv.ParseFloat(fleet.Value, 64)
	require.NoError(t, err)
	require.Equal(t, 2.0, replicas, "two replicas leak")
	require.Equal(t, leakFn+" leaks heap on 2 replicas of checkout", fleet.Annotations["summary"])
	t.Logf("LeakguardFleetLeak: %s", fleet.Annotations["summary"])
	require.NotEmpty(t, s.leak)
	description := s.leak[0].Annotations["description"]
	require.Contains(t, description, leakFn+" (")
	t.Logf("LeakguardLeak: %s", description)

	require.False(t, s.leaks[clean], "the clean replica is not flagged")
	require.Empty(t, api.query(t, fmt.Sprintf(`leakguard_leak_growth_bytes_per_second{instance=%q, function=%q}`, clean, leakFn)),
		"the clean replica exports no series for the function that leaks elsewhere")
	up := api.query(t, `up{job="checkout"} == 1`)
	require.Len(t, up, 3, "all three replicas are scraped")

	// What a flagged replica exposes passes Prometheus's own linter.
	resp, err := client.Get("http://" + leaky[0] + "/metrics")
	require.NoError(t, err)
	exposition, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(exposition), "leakguard_leak_growth_bytes_per_second{")
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = strings.NewReader(string(exposition))
	out, err := lint.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "promtool check metrics reports no problem")

	// The page the alert's description points to names the function too.
	resp, err = client.Get("http://" + leaky[0] + "/debug/leakguard?format=json")
	require.NoError(t, err)
	var report leakguard.Report
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&report))
	resp.Body.Close()
	var flagged []string
	for _, a := range report.Alerts {
		flagged = append(flagged, a.Leaf().Function)
	}
	require.Contains(t, flagged, leakFn)

	// Each dashboard query runs on this Prometheus, and the growth and
	// in-use panels show the leaking function on both leaking replicas.
	for _, p := range readDashboard(t).Panels {
		for _, target := range p.Targets {
			expr := strings.NewReplacer("$job", ".+", "$instance", ".+").Replace(target.Expr)
			result := api.query(t, expr)
			if !strings.Contains(expr, "_leak_") {
				continue
			}
			seen := map[string]bool{}
			for _, r := range result {
				if r.Metric["function"] == leakFn {
					seen[r.Metric["instance"]] = true
				}
			}
			if strings.HasPrefix(expr, "count by (function)") {
				require.Len(t, result, 1, "%s: %s", p.Title, expr)
				require.Equal(t, 2.0, result[0].value(t), "%s: %s", p.Title, expr)
				continue
			}
			require.True(t, seen[leaky[0]] && seen[leaky[1]] && !seen[clean], "%s: %s: %v", p.Title, expr, result)
		}
	}
	t.Logf("done in %v", time.Since(began).Round(time.Second))
}

// startReplica runs the example service on a free loopback port and
// returns its address.
func startReplica(t *testing.T, leak bool) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	logs, err := os.Create(filepath.Join(t.TempDir(), "replica.log"))
	require.NoError(t, err)
	cmd := exec.Command(exe, "-addr=127.0.0.1:0", "-leak="+strconv.FormatBool(leak), "-interval=100ms", "-horizon=2s")
	cmd.Env = append(os.Environ(), serviceEnv+"=1", "GOMEMLIMIT=1GiB")
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("replica (leak=%v) log:\n%s", leak, tail(b))
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the replica printed no address")
	m := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/metrics`).FindStringSubmatch(line)
	require.NotNil(t, m, "unexpected first line: %q", line)
	return m[1]
}

func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// client bounds every request, so a hung server fails the test instead of
// stalling it.
var client = &http.Client{Timeout: 10 * time.Second}

// promAPI is a Prometheus server's HTTP API.
type promAPI struct{ base string }

// startPrometheus runs the server on a free loopback port with its own
// data directory until the test ends, retrying on another port if the
// chosen one was taken in the meantime.
func startPrometheus(t *testing.T, server, config string) promAPI {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		dir := t.TempDir()
		logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
		require.NoError(t, err)
		cmd := exec.Command(server,
			"--config.file="+config,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
		)
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
			_ = logs.Close()
			if t.Failed() {
				b, _ := os.ReadFile(logs.Name())
				t.Logf("prometheus log:\n%s", tail(b))
			}
		})
		api := promAPI{base: "http://" + addr}
		if api.ready(t, exited) {
			return api
		}
		b, _ := os.ReadFile(logs.Name())
		require.Less(t, attempt, 3, "prometheus exited at every attempt; the last log:\n%s", tail(b))
		t.Logf("prometheus exited, retrying on another port:\n%s", tail(b))
	}
}

// ready waits for the server to report ready (true) or exit (false).
func (p promAPI) ready(t *testing.T, exited <-chan struct{}) bool {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return false
		case <-deadline:
			require.FailNow(t, "prometheus not ready within 30s")
		case <-tick.C:
		}
		resp, err := client.Get(p.base + "/-/ready")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return true
		}
	}
}

func (p promAPI) get(t *testing.T, path string, params url.Values, data any) {
	t.Helper()
	resp, err := client.Get(p.base + path + "?" + params.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var envelope struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &envelope), "%s", body)
	require.Equal(t, "success", envelope.Status, "%s %v: %s", path, params, envelope.Error)
	require.NoError(t, json.Unmarshal(envelope.Data, data))
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

func (p promAPI) alerts(t *testing.T) []promAlert {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", nil, &data)
	return data.Alerts
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) value(t *testing.T) float64 {
	t.Helper()
	str, ok := s.Value[1].(string)
	require.True(t, ok, "%v", s.Value)
	v, err := strconv.ParseFloat(str, 64)
	require.NoError(t, err)
	return v
}

// query evaluates an instant vector expression now.
func (p promAPI) query(t *testing.T, expr string) []promSample {
	t.Helper()
	var data struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	require.Equal(t, "vector", data.ResultType, expr)
	return data.Result
}
