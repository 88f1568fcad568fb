package client_test

import (
	"os"
	"testing"

	"github.com/tabella/tabella/internal/proctest"
)

// TestMain removes the binaries the end-to-end tests built.
func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }
