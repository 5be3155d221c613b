package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/dingbook/dingbook"
)

func TestHoldings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key, err := HolderKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := HolderKey(dir); !bytes.Equal(again, key) {
		t.Fatal("the holder key changed")
	}
	if st, _ := os.Stat(filepath.Join(dir, HolderKeyFile)); st.Mode().Perm() != 0o600 {
		t.Fatalf("holders.key mode %v", st.Mode())
	}
	h := NewHasher(key)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// Three holdings over 20,000 people (every bucket used), overlapping.
	sets := [][2]int{{0, 20000}, {10000, 20000}, {19999, 20001}}
	for i, s := range sets {
		var sums []uint64
		for u := s[0]; u < s[1]; u++ {
			sums = append(sums, h.Sum("user"+strconv.Itoa(u)))
		}
		sums = append(sums, sums[0]) // duplicates count once
		hd := &Holding{Kind: KindExport, Ref: "e" + strconv.Itoa(i), Time: now.Add(time.Duration(i) * time.Hour), Fields: []string{"name"}, Expires: now.Add(48 * time.Hour)}
		if err := db.AddHolding(ctx, hd, sums); err != nil {
			t.Fatal(err)
		}
		if hd.People != s[1]-s[0] {
			t.Fatalf("holding %d: %d people, want %d", i, hd.People, s[1]-s[0])
		}
		back, err := db.HoldingHashes(ctx, hd.ID)
		if err != nil || len(back) != hd.People || !slices.IsSorted(back) {
			t.Fatalf("hashes back: %d sorted=%v %v", len(back), slices.IsSorted(back), err)
		}
	}
	for _, c := range []struct {
		user  int
		since time.Time
		want  []string
	}{{5, time.Time{}, []string{"e0"}}, {15000, time.Time{}, []string{"e0", "e1"}}, {19999, time.Time{}, []string{"e0", "e1", "e2"}},
		{20000, time.Time{}, []string{"e2"}}, {20001, time.Time{}, nil}, {19999, now.Add(time.Hour), []string{"e1", "e2"}}} {
		hs, err := db.WhoHas(ctx, key, []string{"user" + strconv.Itoa(c.user)}, c.since)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range hs {
			got = append(got, x.Ref)
		}
		if !slices.Equal(got, c.want) {
			t.Fatalf("user%d since %v: %v, want %v", c.user, c.since, got, c.want)
		}
	}
	// Another key matches nobody.
	if hs, _ := db.WhoHas(ctx, bytes.Repeat([]byte{1}, 32), []string{"user5"}, time.Time{}); len(hs) != 0 {
		t.Fatalf("a different key matched: %v", hs)
	}
}

func TestSortHashes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 1 << 16, 100_000, 300_000} {
		in := make([]uint64, n)
		for i := range in {
			in[i] = rng.Uint64()
			if i%5 == 0 {
				in[i] &= 0xff // many in bucket 0
			}
		}
		want := slices.Clone(in)
		slices.Sort(want)
		if got := sortHashes(in); !slices.Equal(got, want) {
			t.Fatalf("n=%d: not sorted", n)
		}
	}
}

var (
	benchHoldings = flag.Int("bench.holdings", 20, "BenchmarkWhoHas: holdings in the database")
	benchPeople   = flag.Int("bench.people", 500_000, "BenchmarkWhoHas: people per holding")
	benchHome     = flag.String("bench.home", "", "BenchmarkWhoHas: state directory to build once and reuse (default: a temporary one)")
)

// benchDB opens the -bench.home database, or a fresh one; it is closed
// when the benchmark ends.
func benchDB(b *testing.B) *DB {
	dir := *benchHome
	if dir == "" {
		dir = b.TempDir()
	}
	db, err := Open(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkWhoHas looks one person up among -bench.holdings holdings of
// -bench.people people each (target: 1,000 × 500,000 in ≤ 1 s):
//
//	go test ./store -run '^$' -bench WhoHas -benchtime 20x -bench.holdings 1000 -bench.home /tmp/whohas
func BenchmarkWhoHas(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	var n int
	db.sdb.QueryRow(`SELECT count(*) FROM holding`).Scan(&n)
	rng := rand.New(rand.NewPCG(1, 2))
	key, _ := HolderKey(db.Dir)
	target := NewHasher(key).Sum("target")
	sums := make([]uint64, *benchPeople)
	for ; n < *benchHoldings; n++ {
		for i := range sums {
			sums[i] = rng.Uint64()
		}
		if n%2 == 0 {
			sums[0] = target // the person is in every other holding
		}
		if err := db.AddHolding(ctx, &Holding{Kind: KindExport, Ref: "bench-" + strconv.Itoa(n), Time: time.Now()}, sums); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		hs, err := db.WhoHas(ctx, key, []string{"target", "stranger" + strconv.FormatUint(rng.Uint64(), 36)}, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		if len(hs) < *benchHoldings/2 {
			b.Fatalf("found %d holdings, want %d", len(hs), *benchHoldings/2)
		}
	}
}

// BenchmarkRecordHolders is the cost of recording a -bench.people export's
// holders: a Recorder hashing every userid, then the export registered with
// its holding in one transaction (into the -bench.home database when
// given, to see the cost when many holdings are stored already).
func BenchmarkRecordHolders(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	key, _ := HolderKey(db.Dir)
	ids := make([]string, *benchPeople)
	for i := range ids {
		ids[i] = "0" + strconv.Itoa(1e17+i*7919)
	}
	b.ResetTimer()
	cpu := cpuTime()
	defer func() { b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op") }()
	for i := range b.N {
		rec := NewRecorder(key, len(ids))
		var p dingbook.Person
		for _, id := range ids {
			p.UserID = id
			rec.Add(&p)
		}
		ref := "rec-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(i)
		if err := db.Write(ctx, func(tx *Tx) error {
			return tx.RegisterExport(ExportRow{ID: ref, Created: time.Now(), Expires: time.Now()}, &Holding{Kind: KindExport, Ref: ref, Time: time.Now()}, rec.Sums())
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// varies less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Holdings recorded before migration 008 hold HMAC-SHA256 hashes: the
// migration marks them (hashing = 1), and who-has still finds their
// people beside the SipHash holdings recorded since.
func TestHoldingsLegacyHashing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key, _ := HolderKey(dir)
	legacy := NewHasherScheme(key, HashHMAC)
	// A database as it was before 008, with one holding recorded then.
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	old := &Holding{Kind: KindExport, Ref: "old", Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.AddHolding(ctx, old, []uint64{legacy.Sum("alice"), legacy.Sum("carol")}); err != nil {
		t.Fatal(err)
	}
	db = reopenAfter(t, db, `ALTER TABLE holding DROP COLUMN hashing`, `DELETE FROM schema_migration WHERE name LIKE '%008_holding_hashing.sql'`)
	defer db.Close()
	if back, _ := db.HoldingByID(ctx, old.ID); back == nil || back.Hashing != HashHMAC {
		t.Fatalf("the old holding after the migration: %+v", back)
	}
	if err := db.AddHolding(ctx, &Holding{Kind: KindExport, Ref: "new", Time: old.Time.Add(time.Hour)}, []uint64{NewHasher(key).Sum("alice"), NewHasher(key).Sum("bob")}); err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string][]string{"alice": {"old", "new"}, "bob": {"new"}, "carol": {"old"}, "dave": nil} {
		hs, err := db.WhoHas(ctx, key, []string{who}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range hs {
			got = append(got, x.Ref)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", who, got, want)
		}
	}
	// The new scheme's values are neither the HMAC's nor the id's.
	if NewHasher(key).Sum("alice") == legacy.Sum("alice") {
		t.Fatal("the schemes agree")
	}
}

// reopenAfter runs qs on db (turning it into a database as it was before
// a migration, whose schema_migration row qs delete), closes it and opens
// its directory again, which applies the migration.
func reopenAfter(t *testing.T, db *DB, qs ...string) *DB {
	t.Helper()
	for _, q := range qs {
		if _, err := db.sdb.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	db, err := Open(context.Background(), db.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// The SipHash key is derived from the holder key: another holder key
// gives other values, the same key the same ones (checked against the
// derivation written out with crypto/hmac).
func TestHasherSipHashKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		key := make([]byte, 32)
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		id := strconv.FormatUint(rng.Uint64(), 10+int(rng.Uint32()%27))[:1+rng.IntN(10)]
		m := hmac.New(sha256.New, key)
		m.Write([]byte("dingbook holding hash: siphash-2-4"))
		sk := m.Sum(nil)
		k0, k1 := binary.LittleEndian.Uint64(sk), binary.LittleEndian.Uint64(sk[8:16])
		if got, want := NewHasher(key).Sum(id), sipHash24(k0, k1, id); got != want {
			t.Fatalf("%q: %016x, want %016x", id, got, want)
		}
		m = hmac.New(sha256.New, key)
		m.Write([]byte(id))
		if got, want := NewHasherScheme(key, HashHMAC).Sum(id), binary.BigEndian.Uint64(m.Sum(nil)); got != want {
			t.Fatalf("hmac %q: %016x, want %016x", id, got, want)
		}
		key[0] ^= 1
		if NewHasher(key).Sum(id) == sipHash24(k0, k1, id) {
			t.Fatal("another key gave the same value")
		}
	}
}

func BenchmarkSortHashes(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	in := make([]uint64, *benchPeople)
	for i := range in {
		in[i] = rng.Uint64()
	}
	for range b.N {
		sortHashes(in)
	}
}
