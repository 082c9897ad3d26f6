module github.com/leakguard/leakguard/eval/realleaks/promlabels

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
	github.com/prometheus/client_golang v1.25.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
