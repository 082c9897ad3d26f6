// Command mcpsession drives the Streamable HTTP transport of
// github.com/mark3labs/mcp-go: an MCP server on loopback serves clients
// that each open a session (initialize), call a tool and close the session
// with DELETE, as the protocol asks.
//
// Up to v0.43.2 the DELETE handler dropped the session's per-session stores
// but not the session itself: it stayed registered with the MCPServer and
// in the transport's active sessions, with its notification and request
// channels, for the life of the process. v0.44.0 unregisters it
// (mark3labs/mcp-go#667).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

func main() {
	drive.Main("mcpsession", func(ctx context.Context) (drive.Request, func(), error) {
		s := server.NewMCPServer("eval", "1.0.0", server.WithToolCapabilities(false))
		s.AddTool(mcp.NewTool("echo", mcp.WithDescription("echoes its text"), mcp.WithString("text")),
			func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultText("ok"), nil
			})
		mux := http.NewServeMux()
		mux.Handle("/mcp", server.NewStreamableHTTPServer(s))
		base, hc, stopServer, err := drive.Serve(mux)
		if err != nil {
			return nil, nil, err
		}
		c := &client{url: base + "/mcp", http: hc}
		return c.session, stopServer, nil
	})
}

type client struct {
	url  string
	http *http.Client
	ids  atomic.Int64
}

// session is one client's whole conversation: initialize, initialized,
// tools/call, DELETE.
func (c *client) session(ctx context.Context) error {
	id := c.ids.Add(1)
	sid, err := c.post(ctx, "", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"eval-client","version":"1.0.0"}}}`, id))
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if sid == "" {
		return errors.New("initialize: no session id")
	}
	if _, err := c.post(ctx, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		return fmt.Errorf("initialized: %w", err)
	}
	if _, err := c.post(ctx, sid, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"request %d"}}}`, id, id)); err != nil {
		return fmt.Errorf("tools/call: %w", err)
	}
	return c.do(ctx, http.MethodDelete, sid, nil)
}

func (c *client) post(ctx context.Context, sid, body string) (string, error) {
	var got string
	err := c.send(ctx, http.MethodPost, sid, []byte(body), func(r *http.Response) { got = r.Header.Get(server.HeaderKeySessionID) })
	return got, err
}

func (c *client) do(ctx context.Context, method, sid string, body []byte) error {
	return c.send(ctx, method, sid, body, nil)
}

func (c *client) send(ctx context.Context, method, sid string, body []byte, seen func(*http.Response)) error {
	r, err := http.NewRequestWithContext(ctx, method, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		r.Header.Set(server.HeaderKeySessionID, sid)
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return errors.New(resp.Status)
	}
	if seen != nil {
		seen(resp)
	}
	return nil
}
