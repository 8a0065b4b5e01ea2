package server_test

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"okpay/internal/server"
)

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// The README's configuration table is generated from the options; this keeps them in step.
func TestReadmeConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), server.EnvTable()) {
		t.Fatalf("README configuration table is out of date; replace it with:\n%s", server.EnvTable())
	}
}
