package console

import "math/bits"

// hashSet is a set of 64-bit hashes (the userids a stream has seen):
// open addressing with linear probing, 8 bytes a slot, at most 3/4 full,
// sized once from an estimate when there is one. A map of a million
// uint64 keys takes about three times the memory.
type hashSet struct {
	slots []uint64 // 0 marks an empty slot
	n     int
	zero  bool // the key 0, kept aside
}

func newHashSet(hint int) *hashSet {
	return &hashSet{slots: make([]uint64, max(64, hint+hint/3+1))}
}

// add adds k and reports whether it was there already.
func (s *hashSet) add(k uint64) bool {
	if k == 0 {
		had := s.zero
		s.zero = true
		return had
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots = make([]uint64, 2*len(old))
		for _, x := range old {
			if x != 0 {
				*s.slot(x) = x
			}
		}
	}
	p := s.slot(k)
	if *p == k {
		return true
	}
	*p = k
	s.n++
	return false
}

func (s *hashSet) has(k uint64) bool {
	if k == 0 {
		return s.zero
	}
	return *s.slot(k) == k
}

// slot returns k's slot, or the empty one where it would go.
func (s *hashSet) slot(k uint64) *uint64 {
	n := len(s.slots)
	hi, _ := bits.Mul64(k, uint64(n))
	for i := int(hi); ; i++ {
		if i == n {
			i = 0
		}
		if x := s.slots[i]; x == 0 || x == k {
			return &s.slots[i]
		}
	}
}
