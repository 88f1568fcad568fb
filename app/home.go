package app

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// PartiesFile is the operator-written description of a consortium, from
// which `tabellad init` and `tabellad testnet` build genesis. Keys are hex.
type PartiesFile struct {
	ChainID    string         `yaml:"chain_id"`
	Parties    []PartyEntry   `yaml:"parties"`
	Organisers []KeyedEntry   `yaml:"organisers"`
	Issuers    []KeyedEntry   `yaml:"issuers"`
	Observers  []ObserverNode `yaml:"observers"`
}

// PartyEntry is one consortium member.
type PartyEntry struct {
	ID        string   `yaml:"id"`
	Name      string   `yaml:"name"`
	Kind      string   `yaml:"kind"` // GOVERNMENT or CIVIL_SOCIETY
	AdminKeys []string `yaml:"admin_keys"`
	// ValidatorKey is the party's consensus key, or "self" for the key of
	// the node being initialised. Empty: the party runs no validator.
	ValidatorKey string `yaml:"validator_key"`
	// Power defaults to 10, equal for every party.
	Power int64 `yaml:"power"`
}

// KeyedEntry is an organiser or issuer.
type KeyedEntry struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	PublicKey string `yaml:"public_key"`
}

// ObserverNode is a non-validating node of a generated testnet.
type ObserverNode struct {
	Name string `yaml:"name"`
}

// DefaultPower is each party's validator power unless set.
const DefaultPower = 10

// LoadPartiesFile reads and parses a parties file.
func LoadPartiesFile(path string) (*PartiesFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf PartiesFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &pf, nil
}

func decodeKey(field, s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: want a %d-byte ed25519 public key in hex, got %q", field, ed25519.PublicKeySize, s)
	}
	return k, nil
}

// Genesis builds the app state. self is the validator key that "self"
// stands for (nil when no party may use it).
func (pf *PartiesFile) Genesis(self []byte) (*tabellav1.Genesis, error) {
	g := &tabellav1.Genesis{}
	for _, p := range pf.Parties {
		kind, ok := tabellav1.PartyKind_value["PARTY_KIND_"+strings.ToUpper(p.Kind)]
		if !ok {
			return nil, fmt.Errorf("party %q: kind must be GOVERNMENT or CIVIL_SOCIETY, got %q", p.ID, p.Kind)
		}
		party := &tabellav1.Party{Id: p.ID, Name: p.Name, Kind: tabellav1.PartyKind(kind)}
		for i, k := range p.AdminKeys {
			key, err := decodeKey(fmt.Sprintf("party %q admin key %d", p.ID, i), k)
			if err != nil {
				return nil, err
			}
			party.AdminKeys = append(party.AdminKeys, key)
		}
		power := p.Power
		if power == 0 {
			power = DefaultPower
		}
		switch p.ValidatorKey {
		case "":
		case "self":
			if self == nil {
				return nil, fmt.Errorf("party %q: validator_key \"self\" is only valid in `tabellad init`", p.ID)
			}
			party.Validator = &tabellav1.Validator{PublicKey: self, Power: power}
		default:
			key, err := decodeKey(fmt.Sprintf("party %q validator key", p.ID), p.ValidatorKey)
			if err != nil {
				return nil, err
			}
			party.Validator = &tabellav1.Validator{PublicKey: key, Power: power}
		}
		g.Parties = append(g.Parties, party)
	}
	for _, o := range pf.Organisers {
		key, err := decodeKey(fmt.Sprintf("organiser %q", o.ID), o.PublicKey)
		if err != nil {
			return nil, err
		}
		g.Organisers = append(g.Organisers, &tabellav1.Organiser{Id: o.ID, Name: o.Name, PublicKey: key})
	}
	for _, is := range pf.Issuers {
		key, err := decodeKey(fmt.Sprintf("issuer %q", is.ID), is.PublicKey)
		if err != nil {
			return nil, err
		}
		g.Issuers = append(g.Issuers, &tabellav1.Issuer{Id: is.ID, Name: is.Name, PublicKey: key})
	}
	if err := ledger.ValidateGenesis(g); err != nil {
		return nil, err
	}
	return g, nil
}

// HomeOptions describe a node home to create.
type HomeOptions struct {
	Home    string
	Moniker string
	// Ports; empty means CometBFT's defaults on 127.0.0.1.
	RPCAddress  string // e.g. tcp://127.0.0.1:26657
	P2PAddress  string // e.g. tcp://127.0.0.1:26656
	GRPCAddress string // e.g. 127.0.0.1:9090
	// PersistentPeers is CometBFT's id@host:port list.
	PersistentPeers string
	// TimeoutCommit is the pause after each block.
	TimeoutCommit time.Duration
	// EmptyBlocksInterval is the longest gap between blocks without txs;
	// the ledger's schedules advance with block time, so empty blocks
	// must keep coming.
	EmptyBlocksInterval time.Duration
}

// InitHome writes CometBFT's and Tabella's config and creates the node and
// validator keys if absent. It returns the validator's public key.
func InitHome(o HomeOptions) (ed25519.PublicKey, error) {
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(o.Home)
	cmtcfg.EnsureRoot(o.Home)
	conf.Moniker = o.Moniker
	conf.RPC.ListenAddress = orDefault(o.RPCAddress, "tcp://127.0.0.1:26657")
	conf.P2P.ListenAddress = orDefault(o.P2PAddress, "tcp://127.0.0.1:26656")
	conf.P2P.PersistentPeers = o.PersistentPeers
	// Local networks run many nodes on one address.
	conf.P2P.AllowDuplicateIP = true
	conf.P2P.AddrBookStrict = false
	conf.Consensus.TimeoutCommit = o.TimeoutCommit
	if conf.Consensus.TimeoutCommit == 0 {
		conf.Consensus.TimeoutCommit = time.Second
	}
	// CheckTx results rarely change when a block commits (a closed
	// initiative, a voter's ballot landing from another node), and a block
	// rejects what became invalid anyway: rechecking the whole mempool
	// after every block would cost more than it saves.
	conf.Mempool.Recheck = false
	conf.Consensus.CreateEmptyBlocks = true
	conf.Consensus.CreateEmptyBlocksInterval = o.EmptyBlocksInterval
	if conf.Consensus.CreateEmptyBlocksInterval == 0 {
		conf.Consensus.CreateEmptyBlocksInterval = 5 * time.Second
	}
	// Tabella's gRPC API is the way in; keep CometBFT's RPC for light
	// clients and auditors, without the unsafe routes.
	conf.RPC.Unsafe = false
	conf.Instrumentation.Prometheus = false
	if err := writeCometConfig(o.Home, conf); err != nil {
		return nil, err
	}

	tc := DefaultConfig()
	if o.GRPCAddress != "" {
		tc.GRPCAddress = o.GRPCAddress
	}
	if err := WriteConfig(o.Home, tc); err != nil {
		return nil, fmt.Errorf("write tabella.toml: %w", err)
	}
	if _, err := p2p.LoadOrGenNodeKey(conf.NodeKeyFile()); err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile())
	pk, err := pv.GetPubKey()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(pk.Bytes()), nil
}

// NodeID returns the CometBFT node id of a home (for persistent peers).
func NodeID(home string) (string, error) {
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(home)
	nk, err := p2p.LoadNodeKey(conf.NodeKeyFile())
	if err != nil {
		return "", err
	}
	return string(nk.ID()), nil
}

// ValidatorKey returns the consensus public key of a node home.
func ValidatorKey(home string) (ed25519.PublicKey, error) {
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(home)
	if _, err := os.Stat(conf.PrivValidatorKeyFile()); err != nil {
		return nil, fmt.Errorf("no validator key in %s: %w", home, err)
	}
	pv := privval.LoadFilePVEmptyState(conf.PrivValidatorKeyFile(), "")
	pk, err := pv.GetPubKey()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(pk.Bytes()), nil
}

// WriteGenesis writes genesis.json: the consortium as app_state and its
// validators as the initial set.
func WriteGenesis(home, chainID string, genesisTime time.Time, g *tabellav1.Genesis) error {
	if !ledger.ValidChainID(chainID) {
		return fmt.Errorf("invalid chain id %q", chainID)
	}
	if err := ledger.ValidateGenesis(g); err != nil {
		return err
	}
	appState, err := protojson.MarshalOptions{Indent: "  "}.Marshal(g)
	if err != nil {
		return err
	}
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     genesisTime.UTC(),
		ChainID:         chainID,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		AppState:        appState,
	}
	for _, p := range g.Parties {
		if p.Validator == nil {
			continue
		}
		pk := cmted25519.PubKey(p.Validator.PublicKey)
		doc.Validators = append(doc.Validators, cmttypes.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: p.Validator.Power, Name: p.Id})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	conf := cmtcfg.DefaultConfig()
	conf.SetRoot(home)
	if err := os.MkdirAll(filepath.Dir(conf.GenesisFile()), 0o755); err != nil {
		return err
	}
	return doc.SaveAs(conf.GenesisFile())
}

func writeCometConfig(home string, conf *cmtcfg.Config) error {
	if err := conf.ValidateBasic(); err != nil {
		return fmt.Errorf("CometBFT config: %w", err)
	}
	cmtcfg.WriteConfigFile(cometConfigPath(home), conf)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// StateSyncOptions configure a new node to join by state sync.
type StateSyncOptions struct {
	// RPCServers are at least two CometBFT RPC URLs the light client
	// verifies the snapshot's app hash with.
	RPCServers  []string
	TrustHeight int64
	TrustHash   []byte
	TrustPeriod time.Duration
}

// EnableStateSync configures a home to restore the latest snapshot its
// peers offer instead of replaying the chain from genesis.
func EnableStateSync(home string, o StateSyncOptions) error {
	conf, err := LoadCometConfig(home)
	if err != nil {
		return err
	}
	conf.StateSync.Enable = true
	conf.StateSync.RPCServers = o.RPCServers
	conf.StateSync.TrustHeight = o.TrustHeight
	conf.StateSync.TrustHash = fmt.Sprintf("%X", o.TrustHash)
	if o.TrustPeriod > 0 {
		conf.StateSync.TrustPeriod = o.TrustPeriod
	}
	conf.StateSync.DiscoveryTime = 5 * time.Second
	return writeCometConfig(home, conf)
}

// SetPersistentPeers sets a home's persistent peers (id@host:port,...).
func SetPersistentPeers(home, peers string) error {
	conf, err := LoadCometConfig(home)
	if err != nil {
		return err
	}
	conf.P2P.PersistentPeers = peers
	return writeCometConfig(home, conf)
}
