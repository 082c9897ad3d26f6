// Command grpcsessions drives google.golang.org/grpc and
// google.golang.org/protobuf as a session service on loopback: Open takes a
// user's attributes as a google.protobuf.Struct (the JSON-like claims an
// identity provider hands over) and returns a session token; Check returns
// the claims of a live session. The service keeps each session, with its
// unmarshalled Struct, in an expiring LRU
// (github.com/hashicorp/golang-lru/v2/expirable) for 50 seconds.
//
// Each client request opens a session and checks it, over one shared
// grpc.ClientConn. Sessions accumulate for the first 50 seconds of a
// 3-minute run (about 15,000 at 300 requests/s), then expire as fast as
// they are opened: memory grows for a while, then stays bounded while the
// RPCs churn buffers and messages. No leak.
package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/leakguard/leakguard/eval/realleaks/drive"
)

// ttl is how long a session lives.
const ttl = 50 * time.Second

// sessionsServer is the service (sessions.v1.Sessions).
type sessionsServer interface {
	Open(context.Context, *structpb.Struct) (*structpb.Struct, error)
	Check(context.Context, *structpb.Struct) (*structpb.Struct, error)
}

type session struct {
	Claims  *structpb.Struct
	Created time.Time
}

type server struct {
	sessions *expirable.LRU[string, *session]
}

func (s *server) Open(_ context.Context, claims *structpb.Struct) (*structpb.Struct, error) {
	if claims.GetFields()["sub"].GetStringValue() == "" {
		return nil, status.Error(codes.InvalidArgument, "claims without sub")
	}
	var b [24]byte
	crand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.sessions.Add(tok, &session{Claims: claims, Created: time.Now()})
	return structpb.NewStruct(map[string]any{"token": tok, "expires_in": ttl.Seconds()})
}

func (s *server) Check(_ context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	sess, ok := s.sessions.Get(in.GetFields()["token"].GetStringValue())
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no such session")
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"claims":  structpb.NewStructValue(sess.Claims),
		"age_sec": structpb.NewNumberValue(time.Since(sess.Created).Seconds()),
	}}, nil
}

func unary(name string, call func(sessionsServer, context.Context, *structpb.Struct) (*structpb.Struct, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			if icpt == nil {
				return call(srv.(sessionsServer), ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/sessions.v1.Sessions/" + name}
			return icpt(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return call(srv.(sessionsServer), ctx, req.(*structpb.Struct))
			})
		},
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "sessions.v1.Sessions",
	HandlerType: (*sessionsServer)(nil),
	Methods: []grpc.MethodDesc{
		unary("Open", sessionsServer.Open),
		unary("Check", sessionsServer.Check),
	},
	Metadata: "sessions/v1/sessions.proto",
}

var roles = []any{"viewer", "editor", "billing", "admin", "support", "auditor"}

// claims are a user's attributes as an identity provider returns them.
func claims(user int) map[string]any {
	r := mrand.New(mrand.NewPCG(uint64(user), 1))
	var rs []any
	for _, role := range roles {
		if r.IntN(3) == 0 {
			rs = append(rs, role)
		}
	}
	return map[string]any{
		"sub":            fmt.Sprintf("user-%07d", user),
		"email":          fmt.Sprintf("user%d@example.com", user),
		"name":           fmt.Sprintf("User Number %d", user),
		"email_verified": r.IntN(10) != 0,
		"locale":         []string{"en-US", "de-DE", "fr-FR", "ja-JP"}[r.IntN(4)],
		"roles":          rs,
		"org":            map[string]any{"id": fmt.Sprintf("org-%05d", user%5000), "plan": "enterprise", "seats": float64(10 + r.IntN(500))},
		"device":         map[string]any{"os": "android", "model": "Pixel 8", "app_version": "7.3.1"},
		"auth_time":      float64(1_700_000_000 + user),
		"amr":            []any{"pwd", "otp"},
	}
}

func main() {
	drive.Main("grpcsessions", func(ctx context.Context) (drive.Request, func(), error) {
		srv := &server{sessions: expirable.NewLRU[string, *session](100_000, nil, ttl)}
		gs := grpc.NewServer()
		gs.RegisterService(&serviceDesc, srv)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		go gs.Serve(ln)
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			gs.Stop()
			return nil, nil, err
		}
		req := func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			in, err := structpb.NewStruct(claims(mrand.IntN(1_000_000)))
			if err != nil {
				return err
			}
			tok := new(structpb.Struct)
			if err := conn.Invoke(ctx, "/sessions.v1.Sessions/Open", in, tok); err != nil {
				return err
			}
			got := new(structpb.Struct)
			if err := conn.Invoke(ctx, "/sessions.v1.Sessions/Check", tok, got); err != nil {
				return err
			}
			if got.GetFields()["claims"].GetStructValue().GetFields()["sub"].GetStringValue() != in.GetFields()["sub"].GetStringValue() {
				return errors.New("Check returned another session's claims")
			}
			return nil
		}
		stop := func() {
			fmt.Fprintf(os.Stderr, "grpcsessions: %d live sessions at the end\n", srv.sessions.Len())
			conn.Close()
			gs.Stop()
		}
		return req, stop, nil
	})
}
