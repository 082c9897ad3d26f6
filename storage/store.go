package storage

import (
	"fmt"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Store is a bounded LRU of per-stack values keyed by stack fingerprint.
// When full, adding a key evicts the least recently used one. It wraps
// golang-lru's lock-free simplelru: a Store belongs to one goroutine.
type Store[V any] struct {
	lru       *simplelru.LRU[uint64, V]
	max       int
	evictions uint64
	removing  bool // simplelru reports removals through the eviction callback too
}

// NewStore returns an empty Store holding at most maxEntries values.
// onEvict, when not nil, is called with each value evicted to make room
// (not for Remove or Purge).
func NewStore[V any](maxEntries int, onEvict func(key uint64, v V)) (*Store[V], error) {
	if maxEntries < 1 {
		return nil, fmt.Errorf("storage: NewStore: maxEntries %d must be at least 1", maxEntries)
	}
	s := &Store[V]{max: maxEntries}
	var err error
	s.lru, err = simplelru.NewLRU[uint64, V](maxEntries, func(k uint64, v V) {
		if s.removing {
			return
		}
		s.evictions++
		if onEvict != nil {
			onEvict(k, v)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("storage: NewStore: %w", err)
	}
	return s, nil
}

// Get returns the value for key and marks it recently used.
func (s *Store[V]) Get(key uint64) (V, bool) { return s.lru.Get(key) }

// Peek returns the value for key without touching its recency.
func (s *Store[V]) Peek(key uint64) (V, bool) { return s.lru.Peek(key) }

// Add stores v under key as the most recently used entry and reports
// whether an older entry was evicted to make room.
func (s *Store[V]) Add(key uint64, v V) (evicted bool) { return s.lru.Add(key, v) }

// Remove deletes key and reports whether it was present.
func (s *Store[V]) Remove(key uint64) bool {
	s.removing = true
	defer func() { s.removing = false }()
	return s.lru.Remove(key)
}

// Len reports the number of entries.
func (s *Store[V]) Len() int { return s.lru.Len() }

// Cap reports the maximum number of entries.
func (s *Store[V]) Cap() int { return s.max }

// Evictions counts entries evicted to make room since the Store was made.
func (s *Store[V]) Evictions() uint64 { return s.evictions }

// Range calls fn for every entry from least to most recently used, without
// touching recency, until fn returns false.
func (s *Store[V]) Range(fn func(key uint64, v V) bool) {
	for _, k := range s.lru.Keys() {
		v, ok := s.lru.Peek(k)
		if ok && !fn(k, v) {
			return
		}
	}
}

// Purge removes every entry.
func (s *Store[V]) Purge() {
	s.removing = true
	defer func() { s.removing = false }()
	s.lru.Purge()
}
