//go:build !linux

package heap

import "runtime"

func mapRecords(int) ([]runtime.MemProfileRecord, bool) { return nil, false }

func unmapRecords([]runtime.MemProfileRecord) {}
