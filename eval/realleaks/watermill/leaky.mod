module github.com/leakguard/leakguard/eval/realleaks/watermill

go 1.26.0

require (
	github.com/ThreeDotsLabs/watermill v1.4.7
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
)

require (
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	github.com/lithammer/shortuuid/v3 v3.0.7 // indirect
	github.com/oklog/ulid v1.3.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
