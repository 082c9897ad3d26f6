module github.com/leakguard/leakguard/eval/realleaks/otelmeter

go 1.26.0

require (
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.54.0
)

require (
	github.com/felixge/httpsnoop v1.0.4 // indirect
	github.com/go-logr/logr v1.4.2 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	go.opentelemetry.io/otel v1.30.0 // indirect
	go.opentelemetry.io/otel/metric v1.30.0 // indirect
	go.opentelemetry.io/otel/trace v1.30.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
