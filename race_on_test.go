//go:build race

package leakguard

const raceEnabled = true
