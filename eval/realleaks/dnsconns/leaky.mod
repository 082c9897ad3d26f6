module github.com/leakguard/leakguard/eval/realleaks/dnsconns

go 1.26.0

require (
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
	github.com/miekg/dns v1.0.14
)

require (
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
