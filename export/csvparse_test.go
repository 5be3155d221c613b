package export_test

import (
	"bytes"
	stdcsv "encoding/csv"
	"testing"

	"github.com/dingbook/dingbook/format/xlsx"
)

func parseCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := stdcsv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func xlsxOpts(tmp string) xlsx.Options { return xlsx.Options{TmpDir: tmp} }
