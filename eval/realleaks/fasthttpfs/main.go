// Command fasthttpfs drives the static file handler of
// github.com/valyala/fasthttp (fasthttp.FS with Compress) as a report-export
// service uses it: each client asks the service for a CSV export, which is
// written under the export directory, then downloads it gzipped through an
// FS handler rooted there, which compresses the file on its first download.
// A janitor removes exports and their compressed copies after a retention.
//
// Up to v1.71.0, compressing a file took a per-file mutex from the
// package-level sync.Map filesLockMap (getFileLock: LoadOrStore of the
// compressed file's absolute path and a new *sync.Mutex) and never removed
// it: one entry per distinct file ever compressed, long after the file is
// gone. v1.72.0 counts the lock's holders and deletes the entry when the
// last one releases it (valyala/fasthttp#2286).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// retention is how long an export stays on disk: the files come and go,
// so only a leak keeps growing.
const retention = 20 * time.Second

func main() {
	drive.Main("fasthttpfs", func(ctx context.Context) (drive.Request, func(), error) {
		dir, err := os.MkdirTemp("", "fasthttpfs-exports-")
		if err != nil {
			return nil, nil, err
		}
		s, err := newService(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		client := &http.Client{Timeout: 5 * time.Second}
		var clients atomic.Int64
		req := func(ctx context.Context) error {
			return s.export(ctx, client, clients.Add(1)%4)
		}
		return req, func() { s.stop(); os.RemoveAll(dir) }, nil
	})
}

// service answers POST /exports with the name of a new CSV export and
// serves GET /files/<name> through fasthttp.FS with compression.
type service struct {
	dir    string
	base   string
	srv    *fasthttp.Server
	seq    atomic.Int64
	done   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

func newService(dir string) (*service, error) {
	s := &service{dir: dir, done: make(chan struct{})}
	fs := &fasthttp.FS{
		Root:        dir,
		Compress:    true,
		PathRewrite: fasthttp.NewPathPrefixStripper(len("/files")),
	}
	files := fs.NewRequestHandler()
	s.srv = &fasthttp.Server{
		Name: "exports",
		Handler: func(ctx *fasthttp.RequestCtx) {
			path := string(ctx.Path())
			switch {
			case ctx.IsPost() && path == "/exports":
				name, err := s.generate(ctx.PostBody())
				if err != nil {
					ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
					return
				}
				ctx.SetBodyString(name)
			case ctx.IsGet() && strings.HasPrefix(path, "/files/"):
				files(ctx)
			default:
				ctx.Error("not found", fasthttp.StatusNotFound)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.base = "http://" + ln.Addr().String()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.srv.Serve(ln) }()
	go func() { defer s.wg.Done(); s.janitor() }()
	return s, nil
}

// generate writes an export: four dozen CSV rows for the account named in
// the request body.
func (s *service) generate(account []byte) (string, error) {
	n := s.seq.Add(1)
	name := fmt.Sprintf("export-%s-%09d.csv", account, n)
	var b bytes.Buffer
	b.WriteString("date,account,item,quantity,unit_price,total\n")
	for i := range 48 {
		q := (int(n)+i)%17 + 1
		p := float64((int(n)*7+i*13)%5000) / 100
		fmt.Fprintf(&b, "2026-06-%02d,%s,SKU-%05d,%d,%.2f,%.2f\n", i%28+1, account, (int(n)+i*31)%100000, q, p, float64(q)*p)
	}
	return name, os.WriteFile(filepath.Join(s.dir, name), b.Bytes(), 0o644)
}

// janitor removes exports and their compressed copies older than retention.
func (s *service) janitor() {
	t := time.NewTicker(retention / 4)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		ents, err := os.ReadDir(s.dir)
		if err != nil {
			continue
		}
		cut := time.Now().Add(-retention)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.ModTime().Before(cut) {
				os.Remove(filepath.Join(s.dir, e.Name()))
			}
		}
	}
}

func (s *service) stop() {
	s.closed.Do(func() {
		close(s.done)
		s.srv.Shutdown()
		s.wg.Wait()
	})
}

// export is one client conversation: ask for an export, download it gzipped.
func (s *service) export(ctx context.Context, client *http.Client, account int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/exports", strings.NewReader(fmt.Sprintf("acct%03d", account)))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	name, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New("POST /exports: " + resp.Status)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/files/"+string(name), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("GET /files: " + resp.Status)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		return errors.New("GET /files: not gzipped")
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
