package app

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
)

// TestnetOptions describe a local multi-party network to generate.
type TestnetOptions struct {
	Parties *PartiesFile
	Output  string
	// ChainID overrides the parties file's.
	ChainID string
	// BasePort: node i listens on BasePort+10i (P2P), +1 (RPC), +2
	// (gRPC), +3 (Prometheus).
	BasePort int
	// BlockTime is CometBFT's timeout_commit.
	BlockTime time.Duration
	// SnapshotInterval overrides tabella.toml's snapshot_interval when set.
	SnapshotInterval int64
	// PeerAddress, if set, gives the host:port node `from` dials to reach
	// node `to` (tests route peers through proxies); default: to's P2P
	// address on 127.0.0.1.
	PeerAddress func(from, to int) string
}

// TestnetNode is one generated node.
type TestnetNode struct {
	Name      string `json:"name"`
	Home      string `json:"home"`
	PartyID   string `json:"party_id,omitempty"`
	Validator bool   `json:"validator"`
	NodeID    string `json:"node_id"`
	P2P       int    `json:"p2p_port"`
	RPC       int    `json:"rpc_port"`
	GRPC      int    `json:"grpc_port"`
	Metrics   int    `json:"metrics_port"`
}

// GRPCAddr is the node's gRPC address.
func (n TestnetNode) GRPCAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.GRPC) }

// RPCAddr is the node's CometBFT RPC URL.
func (n TestnetNode) RPCAddr() string { return fmt.Sprintf("http://127.0.0.1:%d", n.RPC) }

// Testnet is the description written to <output>/network.json.
type Testnet struct {
	ChainID string        `json:"chain_id"`
	Genesis string        `json:"genesis"`
	Keys    string        `json:"keys"`
	Nodes   []TestnetNode `json:"nodes"`
}

// LoadTestnet reads <dir>/network.json.
func LoadTestnet(dir string) (*Testnet, error) {
	b, err := os.ReadFile(filepath.Join(dir, "network.json"))
	if err != nil {
		return nil, err
	}
	var t Testnet
	return &t, json.Unmarshal(b, &t)
}

// GenerateTestnet writes one validator home per party and one home per
// observer, a shared genesis holding the consortium, and the keys of every
// party admin, organiser and issuer the parties file leaves without one
// (under <output>/keys, usable with `tabella --home <output>`).
func GenerateTestnet(o TestnetOptions) (*Testnet, error) {
	pf := o.Parties
	chainID := o.ChainID
	if chainID == "" {
		chainID = pf.ChainID
	}
	if chainID == "" {
		return nil, fmt.Errorf("no chain id: set chain_id in the parties file or pass --chain-id")
	}
	if o.BasePort == 0 {
		o.BasePort = 27000
	}
	if o.BlockTime == 0 {
		o.BlockTime = time.Second
	}
	if _, err := os.Stat(filepath.Join(o.Output, "network.json")); err == nil {
		return nil, fmt.Errorf("%s already holds a testnet; remove it first", o.Output)
	}
	if err := os.MkdirAll(o.Output, 0o755); err != nil {
		return nil, err
	}
	net := &Testnet{ChainID: chainID, Keys: o.Output}
	for _, p := range pf.Parties {
		net.Nodes = append(net.Nodes, TestnetNode{Name: p.ID, PartyID: p.ID, Validator: true})
	}
	for _, ob := range pf.Observers {
		if !ledger.ValidID(ob.Name) {
			return nil, fmt.Errorf("observer name %q is not a valid id", ob.Name)
		}
		net.Nodes = append(net.Nodes, TestnetNode{Name: "observer-" + ob.Name})
	}
	// Homes and keys first: peers need every node id.
	valKeys := map[string][]byte{}
	for i := range net.Nodes {
		n := &net.Nodes[i]
		n.Home = filepath.Join(o.Output, n.Name)
		n.P2P, n.RPC, n.GRPC, n.Metrics = o.BasePort+10*i, o.BasePort+10*i+1, o.BasePort+10*i+2, o.BasePort+10*i+3
		pk, err := InitHome(HomeOptions{
			Home: n.Home, Moniker: n.Name,
			RPCAddress:    fmt.Sprintf("tcp://127.0.0.1:%d", n.RPC),
			P2PAddress:    fmt.Sprintf("tcp://127.0.0.1:%d", n.P2P),
			GRPCAddress:   n.GRPCAddr(),
			TimeoutCommit: o.BlockTime,
		})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if n.NodeID, err = NodeID(n.Home); err != nil {
			return nil, err
		}
		if o.SnapshotInterval > 0 {
			conf, err := LoadConfig(n.Home)
			if err != nil {
				return nil, err
			}
			conf.SnapshotInterval = o.SnapshotInterval
			if err := WriteConfig(n.Home, conf); err != nil {
				return nil, err
			}
		}
		if n.Validator {
			valKeys[n.PartyID] = pk
		}
	}
	// Fill in the parties file: generated admin, organiser and issuer keys,
	// and each party's node key as its validator.
	filled := *pf
	filled.Parties = append([]PartyEntry(nil), pf.Parties...)
	for i := range filled.Parties {
		p := &filled.Parties[i]
		if len(p.AdminKeys) == 0 {
			k, err := client.CreateKey(o.Output, p.ID+"-admin")
			if err != nil {
				return nil, err
			}
			p.AdminKeys = []string{k.PublicHex()}
		}
		p.ValidatorKey = hex.EncodeToString(valKeys[p.ID])
	}
	fillKeys := func(entries []KeyedEntry) ([]KeyedEntry, error) {
		out := append([]KeyedEntry(nil), entries...)
		for i := range out {
			if out[i].PublicKey == "" {
				k, err := client.CreateKey(o.Output, out[i].ID)
				if err != nil {
					return nil, err
				}
				out[i].PublicKey = k.PublicHex()
			}
		}
		return out, nil
	}
	var err error
	if filled.Organisers, err = fillKeys(pf.Organisers); err != nil {
		return nil, err
	}
	if filled.Issuers, err = fillKeys(pf.Issuers); err != nil {
		return nil, err
	}
	g, err := filled.Genesis(nil)
	if err != nil {
		return nil, err
	}
	genesisTime := time.Now().UTC()
	for i := range net.Nodes {
		n := net.Nodes[i]
		if err := WriteGenesis(n.Home, chainID, genesisTime, g); err != nil {
			return nil, err
		}
		var peers []string
		for j, m := range net.Nodes {
			if j == i {
				continue
			}
			addr := fmt.Sprintf("127.0.0.1:%d", m.P2P)
			if o.PeerAddress != nil {
				addr = o.PeerAddress(i, j)
			}
			peers = append(peers, m.NodeID+"@"+addr)
		}
		if err := setPeers(n.Home, strings.Join(peers, ","), o.PeerAddress != nil, n.Metrics); err != nil {
			return nil, err
		}
	}
	net.Genesis = filepath.Join(net.Nodes[0].Home, "config", "genesis.json")
	b, _ := json.MarshalIndent(net, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Output, "network.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return net, nil
}

// setPeers rewrites a home's CometBFT config with its persistent peers and
// metrics port. With fixedPeers, peer exchange is off so nodes only use
// the given addresses (tests route them through proxies).
func setPeers(home, peers string, fixedPeers bool, metricsPort int) error {
	conf, err := LoadCometConfig(home)
	if err != nil {
		return err
	}
	conf.P2P.PersistentPeers = peers
	if fixedPeers {
		conf.P2P.PexReactor = false
	}
	conf.Instrumentation.Prometheus = true
	conf.Instrumentation.PrometheusListenAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	return writeCometConfig(home, conf)
}
