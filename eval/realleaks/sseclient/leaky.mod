module github.com/leakguard/leakguard/eval/realleaks/sseclient

go 1.26.0

require (
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
	github.com/r3labs/sse/v2 v2.8.1
	gopkg.in/cenkalti/backoff.v1 v1.1.0
)

require (
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	golang.org/x/net v0.0.0-20191116160921-f9c825593386 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
