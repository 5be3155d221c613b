package vcard

import (
	"io"
	"testing"

	"github.com/dingbook/dingbook"
)

// BenchmarkWritePerson measures writing generated people (Chinese,
// Indonesian and English names) to a discarding writer.
func BenchmarkWritePerson(b *testing.B) {
	org := generatedOrg(10000)
	tree := dingbook.NewTree(org.Depts)
	b.ReportAllocs()
	b.ResetTimer()
	w := New(io.Discard, Options{CorpID: org.CorpID})
	for i := 0; i < b.N; i++ {
		if err := w.WritePerson(&org.People[i%len(org.People)], tree); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
}
