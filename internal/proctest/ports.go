package proctest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Test ports come from below the kernel's ephemeral range, so that no
// outgoing connection (a client's, a CometBFT peer's) can take one between
// the moment a test picks it and the moment its process listens on it. Test
// processes running at once (go test runs packages in parallel) keep out of
// each other's way by holding an flock on a file per port until the test
// ends; the kernel drops the lock if a test process dies.
const (
	portFloor   = 20000
	portCeiling = 32768 // Linux's default ephemeral range starts here
)

// portRange is the [lo, hi) span tests draw from: portFloor up to the start
// of this machine's ephemeral range.
func portRange() (lo, hi int) {
	hi = portCeiling
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil && start > portFloor+1000 {
				hi = start
			}
		}
	}
	return portFloor, hi
}

// FreePort reserves a loopback TCP port for the rest of the test.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreeRange(t, 1)
}

// FreeRange reserves n consecutive loopback TCP ports for the rest of the
// test and returns the first.
func FreeRange(t testing.TB, n int) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "tabella-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatalf("port lock dir: %v", err)
	}
	lo, hi := portRange()
	for attempt := 0; attempt < 200; attempt++ {
		base := lo + rand.IntN(hi-lo-n)
		locks, ok := reserve(dir, base, n)
		if !ok {
			continue
		}
		t.Cleanup(func() {
			for _, f := range locks {
				f.Close() // closing the file drops its flock
			}
		})
		return base
	}
	t.Fatalf("no %d free loopback ports in [%d, %d)", n, lo, hi)
	return 0
}

// reserve locks ports base..base+n-1 and checks that nothing listens on
// them. On any failure it releases what it took.
func reserve(dir string, base, n int) ([]*os.File, bool) {
	locks := make([]*os.File, 0, n)
	release := func() {
		for _, f := range locks {
			f.Close()
		}
	}
	for p := base; p < base+n; p++ {
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			release()
			return nil, false
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			release()
			return nil, false
		}
		locks = append(locks, f)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			release()
			return nil, false
		}
		l.Close()
	}
	return locks, true
}
