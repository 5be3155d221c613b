package export_test

import (
	"bytes"
	stdcsv "encoding/csv"
	"testing"
)

func parseCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := stdcsv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
