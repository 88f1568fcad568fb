// Package proctest runs real tabellad and tabella processes for end-to-end
// tests: it builds the binaries once, reserves loopback ports, captures
// logs, and kills what it started when the test ends.
package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tabella/tabella/client"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// moduleRoot finds the directory holding go.mod above the working dir.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Binaries builds tabellad and tabella once per test process and returns
// their paths.
func Binaries(t testing.TB) (tabellad, tabella string) {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, err = os.MkdirTemp("", "tabella-bin-")
		if err != nil {
			buildErr = err
			return
		}
		for _, name := range []string{"tabellad", "tabella"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "tabellad"), filepath.Join(binDir, "tabella")
}

// Main runs a package's tests and then removes the binaries Binaries
// built, which would otherwise stay in the temporary directory (about
// 90 MB a test run). Call it from TestMain: os.Exit(proctest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		if err := os.RemoveAll(binDir); err != nil {
			fmt.Fprintf(os.Stderr, "proctest: remove %s: %v\n", binDir, err)
		}
	}
	return code
}

// Ports is a node's set of loopback listen addresses.
type Ports struct {
	GRPC, RPC, P2P int
}

// NewPorts reserves three ports for the rest of the test.
func NewPorts(t testing.TB) Ports {
	return Ports{GRPC: FreePort(t), RPC: FreePort(t), P2P: FreePort(t)}
}

// GRPCAddr is host:port for the gRPC API.
func (p Ports) GRPCAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.GRPC) }

// RPCAddr is CometBFT's RPC address in its tcp:// form.
func (p Ports) RPCAddr() string { return fmt.Sprintf("tcp://127.0.0.1:%d", p.RPC) }

// P2PAddr is CometBFT's P2P address in its tcp:// form.
func (p Ports) P2PAddr() string { return fmt.Sprintf("tcp://127.0.0.1:%d", p.P2P) }

// Proc is a running process whose output goes to a log file.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Start runs bin with args; the process is killed when the test ends.
func Start(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- log of %s (%s):\n%s", name, logPath, tail(logPath, 60))
		}
	})
	return p
}

// Kill sends SIGKILL and waits for the process to die.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Proc) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s", p.Name, timeout)
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log returns the process output so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// WaitHeight dials addr and waits until the node has committed minHeight.
func WaitHeight(ctx context.Context, addr string, minHeight int64) (*client.Client, error) {
	c, err := client.Dial(addr)
	if err != nil {
		return nil, err
	}
	for {
		info, err := c.GetChainInfo(ctx, &tabellav1.GetChainInfoRequest{})
		if err == nil && info.Height >= minHeight {
			return c, nil
		}
		select {
		case <-ctx.Done():
			c.Close()
			if err == nil {
				err = fmt.Errorf("height %d, want %d", info.Height, minHeight)
			}
			return nil, fmt.Errorf("node at %s not ready: %v", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StartDev runs `tabellad dev` in home on the given ports and waits for
// the demo initiative to exist.
func StartDev(t testing.TB, home string, ports Ports, extra ...string) (*Proc, *client.Client) {
	t.Helper()
	tabellad, _ := Binaries(t)
	args := append([]string{"dev", "--home", home, "--grpc", ports.GRPCAddr(), "--rpc", ports.RPCAddr(), "--p2p", ports.P2PAddr()}, extra...)
	p := Start(t, "tabellad-dev", tabellad, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if strings.Contains(p.Log(), "Tabella dev network") {
			break
		}
		if p.Exited() {
			t.Fatalf("tabellad dev exited:\n%s", p.Log())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tabellad dev not ready in time:\n%s", p.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
	c, err := WaitHeight(ctx, ports.GRPCAddr(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}
