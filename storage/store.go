package storage

import "fmt"

// Store is a bounded LRU of per-stack values keyed by stack fingerprint.
// When full, adding a key evicts the least recently used one. Its entries
// live in one array linked by index, so that visiting them allocates
// nothing and an entry costs a map slot and 24 bytes beside its value. A
// Store belongs to one goroutine.
type Store[V any] struct {
	index     map[uint64]int32
	entries   []entry[V] // entries[0] is the list's sentinel
	free      int32      // head of the free list, 0 if none
	max       int
	evictions uint64
	onEvict   func(key uint64, v V)
}

type entry[V any] struct {
	key        uint64
	value      V
	prev, next int32 // towards the least / most recently used
}

// NewStore returns an empty Store holding at most maxEntries values.
// onEvict, when not nil, is called with each value evicted to make room
// (not for Remove or Purge).
func NewStore[V any](maxEntries int, onEvict func(key uint64, v V)) (*Store[V], error) {
	if maxEntries < 1 || maxEntries >= 1<<31-1 {
		return nil, fmt.Errorf("storage: NewStore: maxEntries %d must be in [1, 2^31-1)", maxEntries)
	}
	s := &Store[V]{max: maxEntries, onEvict: onEvict}
	s.Purge()
	return s, nil
}

func (s *Store[V]) unlink(i int32) {
	e := &s.entries[i]
	s.entries[e.prev].next = e.next
	s.entries[e.next].prev = e.prev
}

// pushFront links entry i as the most recently used.
func (s *Store[V]) pushFront(i int32) {
	last := s.entries[0].prev
	s.entries[i].prev, s.entries[i].next = last, 0
	s.entries[last].next = i
	s.entries[0].prev = i
}

// Get returns the value for key and marks it recently used.
func (s *Store[V]) Get(key uint64) (V, bool) {
	i, ok := s.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	s.unlink(i)
	s.pushFront(i)
	return s.entries[i].value, true
}

// Slot returns where key's entry lives, for Touch, and whether it is
// present. A slot stays key's until key leaves the Store.
func (s *Store[V]) Slot(key uint64) (int32, bool) {
	i, ok := s.index[key]
	return i, ok
}

// Touch marks key recently used, as Get does, given the slot Slot returned
// for it: a caller that keeps the slot saves the map lookup. It reports
// false, touching nothing, when key no longer lives there.
func (s *Store[V]) Touch(slot int32, key uint64) bool {
	if slot <= 0 || int(slot) >= len(s.entries) || s.entries[slot].key != key || s.entries[slot].prev == 0 && s.entries[0].next != slot {
		return false
	}
	s.unlink(slot)
	s.pushFront(slot)
	return true
}

// Peek returns the value for key without touching its recency.
func (s *Store[V]) Peek(key uint64) (V, bool) {
	i, ok := s.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	return s.entries[i].value, true
}

// Add stores v under key as the most recently used entry and reports
// whether an older entry was evicted to make room.
func (s *Store[V]) Add(key uint64, v V) (evicted bool) {
	if i, ok := s.index[key]; ok {
		s.entries[i].value = v
		s.unlink(i)
		s.pushFront(i)
		return false
	}
	if len(s.index) >= s.max {
		oldest := s.entries[0].next
		e := s.entries[oldest]
		s.drop(oldest)
		s.evictions++
		evicted = true
		if s.onEvict != nil {
			s.onEvict(e.key, e.value)
		}
	}
	i := s.free
	if i != 0 {
		s.free = s.entries[i].next
	} else {
		i = int32(len(s.entries))
		s.entries = append(s.entries, entry[V]{})
	}
	s.entries[i].key, s.entries[i].value = key, v
	s.pushFront(i)
	s.index[key] = i
	return evicted
}

// drop unlinks entry i, forgets its key and value and frees its slot.
func (s *Store[V]) drop(i int32) {
	s.unlink(i)
	delete(s.index, s.entries[i].key)
	s.entries[i] = entry[V]{next: s.free}
	s.free = i
}

// Remove deletes key and reports whether it was present.
func (s *Store[V]) Remove(key uint64) bool {
	i, ok := s.index[key]
	if ok {
		s.drop(i)
	}
	return ok
}

// Len reports the number of entries.
func (s *Store[V]) Len() int { return len(s.index) }

// Cap reports the maximum number of entries.
func (s *Store[V]) Cap() int { return s.max }

// Evictions counts entries evicted to make room since the Store was made.
func (s *Store[V]) Evictions() uint64 { return s.evictions }

// Range calls fn for every entry from least to most recently used, without
// touching recency, until fn returns false. fn must not change the Store.
func (s *Store[V]) Range(fn func(key uint64, v V) bool) {
	for i := s.entries[0].next; i != 0; i = s.entries[i].next {
		if !fn(s.entries[i].key, s.entries[i].value) {
			return
		}
	}
}

// Purge removes every entry.
func (s *Store[V]) Purge() {
	s.index = make(map[uint64]int32)
	s.entries = append(s.entries[:0:0], entry[V]{})
	s.free = 0
}
