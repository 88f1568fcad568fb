package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tabella/tabella/ledger"
)

// KeyFile is the on-disk form of an ed25519 key: JSON, mode 0600, under
// <home>/keys/<name>.json.
type KeyFile struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
}

// Key is a loaded signing key.
type Key struct {
	Name    string
	Private ed25519.PrivateKey
}

// Public returns the public key.
func (k *Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// PublicHex returns the public key in hex, as the CLI prints keys.
func (k *Key) PublicHex() string { return hex.EncodeToString(k.Public()) }

// KeysDir is where a home keeps its keys.
func KeysDir(home string) string { return filepath.Join(home, "keys") }

// ErrKeyExists is returned when creating a key whose name is taken.
var ErrKeyExists = errors.New("a key with that name already exists")

// CreateKey generates and stores a new key.
func CreateKey(home, name string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ImportKey(home, name, priv)
}

// ImportKey stores an existing private key under name.
func ImportKey(home, name string, priv ed25519.PrivateKey) (*Key, error) {
	if !ledger.ValidID(name) {
		return nil, fmt.Errorf("key name %q: use 1-%d characters of a-z, 0-9, '.', '_', '-'", name, ledger.MaxIDLen)
	}
	if err := os.MkdirAll(KeysDir(home), 0o700); err != nil {
		return nil, err
	}
	k := &Key{Name: name, Private: priv}
	b, err := json.MarshalIndent(KeyFile{
		Name:       name,
		Type:       "ed25519",
		PublicKey:  k.PublicHex(),
		PrivateKey: hex.EncodeToString(priv.Seed()),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(KeysDir(home), name+".json")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ErrKeyExists, path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// LoadKey loads a key by name from home, or from a path to a key file.
func LoadKey(home, nameOrPath string) (*Key, error) {
	path := nameOrPath
	if !strings.ContainsRune(nameOrPath, os.PathSeparator) && !strings.HasSuffix(nameOrPath, ".json") {
		path = filepath.Join(KeysDir(home), nameOrPath+".json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no key %q (looked for %s; `tabella keys list` shows your keys)", nameOrPath, path)
		}
		return nil, err
	}
	var kf KeyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if kf.Type != "ed25519" {
		return nil, fmt.Errorf("key file %s: type %q, want ed25519", path, kf.Type)
	}
	seed, err := hex.DecodeString(kf.PrivateKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("key file %s: private_key must be a %d-byte hex seed", path, ed25519.SeedSize)
	}
	k := &Key{Name: kf.Name, Private: ed25519.NewKeyFromSeed(seed)}
	if kf.PublicKey != "" && kf.PublicKey != k.PublicHex() {
		return nil, fmt.Errorf("key file %s: public_key does not match the private key", path)
	}
	return k, nil
}

// ListKeys returns every key in home, by name.
func ListKeys(home string) ([]*Key, error) {
	entries, err := os.ReadDir(KeysDir(home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Key
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		k, err := LoadKey(home, filepath.Join(KeysDir(home), e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ParsePublicKey decodes a hex ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("want a %d-byte ed25519 public key in hex, got %q", ed25519.PublicKeySize, s)
	}
	return b, nil
}
