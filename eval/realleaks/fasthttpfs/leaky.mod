module github.com/leakguard/leakguard/eval/realleaks/fasthttpfs

go 1.26.0

require (
	github.com/leakguard/leakguard/eval/realleaks v0.0.0
	github.com/valyala/fasthttp v1.71.0
)

require (
	github.com/andybalholm/brotli v1.2.1 // indirect
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/klauspost/compress v1.18.6 // indirect
	github.com/leakguard/leakguard v0.0.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)

replace (
	github.com/leakguard/leakguard => ../../..
	github.com/leakguard/leakguard/eval/realleaks => ..
)
