package vcard

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingbook/dingbook"
)

func TestSplitFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "export.vcf")
	var buf bytes.Buffer
	w := New(&buf, Options{Company: "示例公司"})
	tree := dingbook.NewTree([]dingbook.Department{{ID: 1, Name: "示例公司"}})
	for i := 0; i < 7; i++ {
		p := &dingbook.Person{UserID: "u" + string(rune('a'+i)), Name: "欧阳娜娜", Title: strings.Repeat("高级工程师", 12), Depts: []dingbook.Membership{{DeptID: 1}}}
		if err := w.WritePerson(p, tree); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	os.WriteFile(path, buf.Bytes(), 0o600)
	parts, counts, err := SplitFile(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 || counts[0] != 3 || counts[1] != 3 || counts[2] != 1 {
		t.Fatalf("parts %v counts %v", parts, counts)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the unsplit file is still there")
	}
	var joined []byte
	for _, p := range parts {
		b, _ := os.ReadFile(p)
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != 0o600 || !bytes.HasPrefix(b, []byte("BEGIN:VCARD\r\n")) || !bytes.HasSuffix(b, []byte("END:VCARD\r\n")) {
			t.Fatalf("%s: mode %v, not whole cards", p, fi.Mode().Perm())
		}
		joined = append(joined, b...)
	}
	if !bytes.Equal(joined, buf.Bytes()) {
		t.Fatal("the parts joined differ from the original")
	}
	// A file within the limit stays as it is.
	path = filepath.Join(t.TempDir(), "small.vcf")
	os.WriteFile(path, buf.Bytes(), 0o600)
	parts, counts, err = SplitFile(path, 10)
	if err != nil || len(parts) != 1 || parts[0] != path || counts[0] != 7 {
		t.Fatalf("small file: %v %v %v", parts, counts, err)
	}
}
