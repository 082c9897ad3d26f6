// Command gopherlua drives github.com/yuin/gopher-lua as an HTTP service
// that runs a Lua handler per request on a pool of Lua states. The states
// carry the service's context (LState.SetContext), so a shutdown cancels
// running scripts; the handler builds its result with coroutine
// generators.
//
// Up to v1.1.0 every coroutine's thread got a child of its state's context
// (context.WithCancel in LState.NewThread) whose cancel function was
// dropped: the child stayed registered with the long-lived service context
// after the coroutine finished. v1.1.1 cancels it when the coroutine dies
// (yuin/gopher-lua#438).
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// script is the request handler: four two-stage coroutine pipelines.
const script = `
function handle(line)
  local function words(s)
    return coroutine.wrap(function()
      for w in string.gmatch(s, "%S+") do coroutine.yield(w) end
    end)
  end
  local function upper(src)
    return coroutine.wrap(function()
      for w in src do coroutine.yield(string.upper(w)) end
    end)
  end
  local out = {}
  for i = 1, 4 do
    for w in upper(words(line)) do out[#out+1] = w end
  end
  return table.concat(out, " ")
end
`

// states is a pool of Lua states, one per concurrent request.
type states chan *lua.LState

func newStates(ctx context.Context, n int) (states, error) {
	p := make(states, n)
	for range n {
		L := lua.NewState(lua.Options{CallStackSize: 64, RegistrySize: 256})
		L.SetContext(ctx)
		if err := L.DoString(script); err != nil {
			return nil, err
		}
		p <- L
	}
	return p, nil
}

func (p states) handle(line string) (string, error) {
	L := <-p
	defer func() { p <- L }()
	if err := L.CallByParam(lua.P{Fn: L.GetGlobal("handle"), NRet: 1, Protect: true}, lua.LString(line)); err != nil {
		return "", err
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret.String(), nil
}

func main() {
	drive.Main("gopherlua", func(ctx context.Context) (drive.Request, func(), error) {
		pool, err := newStates(ctx, 8)
		if err != nil {
			return nil, nil, err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /shout", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out, err := pool.handle(string(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, out)
		})
		base, client, stopServer, err := drive.Serve(mux)
		if err != nil {
			return nil, nil, err
		}
		url := base + "/shout"
		var n atomic.Int64
		req := func(ctx context.Context) error {
			body := fmt.Sprintf("request %d wants these words in capitals", n.Add(1))
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
			if err != nil {
				return err
			}
			return drive.Do(client, r)
		}
		return req, stopServer, nil
	})
}
