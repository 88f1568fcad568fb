package client

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

// Files of anonymous voting (docs/anonymous-voting.md). Every file holding
// a secret is written with mode 0600.
const (
	BlindKeyFileVersion  = "tabella-blind-key/1"
	IssuanceFileVersion  = "tabella-blind-issued/1"
	BlindRequestVersion  = "tabella-blind-request/1"
	BlindResponseVersion = "tabella-blind-response/1"
	AnonymousFileVersion = "tabella-anonymous/1"
)

// ---------------------------------------------------------------------------
// Issuer side
// ---------------------------------------------------------------------------

// BlindKeyFile is an issuer's RSA blind-signing key for one initiative,
// kept at <home>/blind-keys/<initiative>/<issuer>.json.
type BlindKeyFile struct {
	Version      string `json:"version"`
	ChainID      string `json:"chain_id"`
	InitiativeID string `json:"initiative_id"`
	IssuerID     string `json:"issuer_id"`
	// PrivateKey is the RSA key in PKCS #8 DER.
	PrivateKey HexBytes `json:"private_key"`
	// PublicKey (DER SubjectPublicKeyInfo) and Attestation are what the
	// organiser puts into the initiative spec.
	PublicKey   HexBytes `json:"public_key"`
	Attestation HexBytes `json:"attestation"`
	// RecordSecret keys the hashes of person ids in the issuance record,
	// so the record alone does not list who asked.
	RecordSecret HexBytes `json:"record_secret"`
}

// Registration is the blind key as the initiative spec carries it.
func (f *BlindKeyFile) Registration() *tabellav1.BlindKey {
	return &tabellav1.BlindKey{IssuerId: f.IssuerID, RsaPublicKey: f.PublicKey, Attestation: f.Attestation}
}

func blindKeyDir(home, initiative string) string {
	return filepath.Join(home, "blind-keys", initiative)
}

// BlindKeyPath is where an issuer keeps its blind key for an initiative.
func BlindKeyPath(home, initiative, issuer string) string {
	return filepath.Join(blindKeyDir(home, initiative), issuer+".json")
}

// IssuanceRecordPath is the issuer's record of the people it blind-signed
// for in an initiative.
func IssuanceRecordPath(home, initiative, issuer string) string {
	return filepath.Join(blindKeyDir(home, initiative), issuer+".issued.json")
}

func checkIDs(ids ...string) error {
	for _, id := range ids {
		if !ledger.ValidID(id) {
			return fmt.Errorf("%q is not a valid id (1-%d characters of a-z, 0-9, '.', '_', '-')", id, ledger.MaxIDLen)
		}
	}
	return nil
}

// CreateBlindKey generates an issuer's blind key for an initiative,
// attests it with the issuer's ed25519 key, and stores it. It refuses to
// replace an existing key: tokens already issued would stop verifying.
func CreateBlindKey(home, chainID, initiative, issuer string, issuerKey ed25519.PrivateKey, bits int) (*BlindKeyFile, error) {
	if err := checkIDs(initiative, issuer); err != nil {
		return nil, err
	}
	sk, err := GenerateBlindKey(bits)
	if err != nil {
		return nil, err
	}
	bk, err := AttestBlindKey(chainID, initiative, issuer, issuerKey, &sk.PublicKey)
	if err != nil {
		return nil, err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("encode RSA private key: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	f := &BlindKeyFile{
		Version: BlindKeyFileVersion, ChainID: chainID, InitiativeID: initiative, IssuerID: issuer,
		PrivateKey: priv, PublicKey: bk.RsaPublicKey, Attestation: bk.Attestation, RecordSecret: secret,
	}
	if err := writeNewJSON(BlindKeyPath(home, initiative, issuer), f); err != nil {
		return nil, fmt.Errorf("store blind key: %w", err)
	}
	return f, nil
}

// LoadBlindKey reads an issuer's blind key for an initiative.
func LoadBlindKey(home, initiative, issuer string) (*BlindKeyFile, *rsa.PrivateKey, error) {
	if err := checkIDs(initiative, issuer); err != nil {
		return nil, nil, err
	}
	path := BlindKeyPath(home, initiative, issuer)
	var f BlindKeyFile
	if err := readJSON(path, &f); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("issuer %s has no blind key for %s (looked for %s; make one with `tabella credential blind-key`)", issuer, initiative, path)
		}
		return nil, nil, err
	}
	if f.Version != BlindKeyFileVersion {
		return nil, nil, fmt.Errorf("%s: version %q, want %q", path, f.Version, BlindKeyFileVersion)
	}
	k, err := x509.ParsePKCS8PrivateKey(f.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: private key: %w", path, err)
	}
	sk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return &f, sk, nil
}

// BlindRequest is what a voter sends the issuer: the blinded token
// message, which shows nothing of the voter key.
type BlindRequest struct {
	Version      string `json:"version"`
	ChainID      string `json:"chain_id"`
	InitiativeID string `json:"initiative_id"`
	IssuerID     string `json:"issuer_id"`
	// BlindKeySHA256 names the blind key the voter blinded under (as the
	// ledger holds it): the issuer refuses a request for another key
	// before it records the person, so a voter's mistake does not use up
	// their one token.
	BlindKeySHA256 HexBytes `json:"blind_key_sha256"`
	Blinded        HexBytes `json:"blinded_message"`
}

// BlindResponse is the issuer's answer: the blind signature.
type BlindResponse struct {
	Version        string   `json:"version"`
	ChainID        string   `json:"chain_id"`
	InitiativeID   string   `json:"initiative_id"`
	IssuerID       string   `json:"issuer_id"`
	BlindSignature HexBytes `json:"blind_signature"`
}

// issuance is the issuer's record for one initiative.
type issuance struct {
	Version string        `json:"version"`
	Issued  []issuedEntry `json:"issued"`
}

type issuedEntry struct {
	// Person is HMAC-SHA256(record_secret, person id).
	Person HexBytes `json:"person"`
	// Request is SHA-256 of the blinded message signed for that person.
	Request HexBytes `json:"request"`
	At      string   `json:"at"`
}

// ErrAlreadyIssued means the issuer already blind-signed a different
// request for this person in this initiative.
var ErrAlreadyIssued = errors.New("already issued")

// IssueBlind blind-signs a voter's request for a person, at most once per
// person and initiative: the person is recorded (by a keyed hash of the
// id) before the answer is returned. The identical request again is
// answered again (RSA signing is deterministic, so it yields nothing new:
// a voter whose first answer was lost can retry); a different request for
// the same person is refused with ErrAlreadyIssued.
func IssueBlind(home, initiative, issuer, person string, req *BlindRequest, now time.Time) (*BlindResponse, error) {
	f, sk, err := LoadBlindKey(home, initiative, issuer)
	if err != nil {
		return nil, err
	}
	switch {
	case req.Version != BlindRequestVersion:
		return nil, fmt.Errorf("the request has version %q, want %q", req.Version, BlindRequestVersion)
	case req.ChainID != f.ChainID || req.InitiativeID != initiative || req.IssuerID != issuer:
		return nil, fmt.Errorf("the request is for %s/%s from issuer %s, this key is for %s/%s from %s", req.ChainID, req.InitiativeID, req.IssuerID, f.ChainID, initiative, issuer)
	case person == "":
		return nil, errors.New("the person id is empty")
	}
	if keyHash := sha256.Sum256(f.PublicKey); !hmac.Equal(req.BlindKeySHA256, keyHash[:]) {
		return nil, fmt.Errorf("the request was blinded under another blind key (sha256 %x), not this issuer's key for %s (sha256 %x): the voter should run `tabella credential request` again against the chain", []byte(req.BlindKeySHA256), initiative, keyHash)
	}
	mac := hmac.New(sha256.New, f.RecordSecret)
	mac.Write([]byte(person))
	who := mac.Sum(nil)
	reqHash := sha256.Sum256(req.Blinded)

	path := IssuanceRecordPath(home, initiative, issuer)
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec := issuance{Version: IssuanceFileVersion}
	if err := readJSON(path, &rec); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fresh := true
	for _, e := range rec.Issued {
		if hmac.Equal(e.Person, who) {
			if !hmac.Equal(e.Request, reqHash[:]) {
				return nil, fmt.Errorf("%w: issuer %s blind-signed a token for this person in %s on %s; one per person", ErrAlreadyIssued, issuer, initiative, e.At)
			}
			fresh = false
		}
	}
	sig, err := BlindSign(sk, req.Blinded)
	if err != nil {
		return nil, err
	}
	if fresh {
		rec.Issued = append(rec.Issued, issuedEntry{Person: who, Request: reqHash[:], At: now.UTC().Format(time.RFC3339)})
		if err := writeJSONAtomic(path, &rec); err != nil {
			return nil, fmt.Errorf("record the issuance (nothing was issued): %w", err)
		}
	}
	return &BlindResponse{Version: BlindResponseVersion, ChainID: f.ChainID, InitiativeID: initiative, IssuerID: issuer, BlindSignature: sig}, nil
}

// IssuedCount is the number of persons an issuer blind-signed a token for
// in an initiative: set against the initiative's turnout, it bounds what
// the issuer's tokens can have cast.
func IssuedCount(home, initiative, issuer string) (int, error) {
	if err := checkIDs(initiative, issuer); err != nil {
		return 0, err
	}
	var rec issuance
	if err := readJSON(IssuanceRecordPath(home, initiative, issuer), &rec); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	return len(rec.Issued), nil
}

// lockFile takes an exclusive lock by creating path; the returned function
// releases it. A lock left by a crashed process must be removed by hand.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: another issue-blind is running, or one crashed (then remove the file)", path)
	}
	if err != nil {
		return nil, err
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}

// ---------------------------------------------------------------------------
// Voter side
// ---------------------------------------------------------------------------

// AnonymousCredential is a voter's material for one anonymous initiative,
// kept at <home>/anonymous/<initiative>/<name>.json: the fresh voter key,
// the blinding seed until the token is made, and then the token. name is
// a local label (e.g. the person's first name); it never reaches anyone.
type AnonymousCredential struct {
	Version      string `json:"version"`
	Name         string `json:"name"`
	ChainID      string `json:"chain_id"`
	InitiativeID string `json:"initiative_id"`
	IssuerID     string `json:"issuer_id"`
	// BlindKey is the issuer's blind key as registered in the initiative.
	BlindKey HexBytes `json:"blind_key"`
	// VoterKey is the ed25519 seed of the fresh key.
	VoterKey     HexBytes `json:"voter_key"`
	VoterPublic  HexBytes `json:"voter_public_key"`
	BlindingSeed HexBytes `json:"blinding_seed,omitempty"`
	Token        HexBytes `json:"token,omitempty"`
}

// AnonymousPath is where a voter's material for an initiative lives.
func AnonymousPath(home, initiative, name string) string {
	return filepath.Join(home, "anonymous", initiative, name+".json")
}

// NewAnonymousRequest makes a fresh voter key for an initiative, blinds
// its token message under the issuer's registered blind key, stores the
// key and the blinding seed, and returns the request for the issuer.
func NewAnonymousRequest(home, name, chainID, initiative string, bk *tabellav1.BlindKey) (*AnonymousCredential, *BlindRequest, error) {
	if err := checkIDs(name, initiative); err != nil {
		return nil, nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	seed := make([]byte, BlindingSeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, nil, err
	}
	blinded, err := Blind(chainID, initiative, bk.RsaPublicKey, pub, seed)
	if err != nil {
		return nil, nil, err
	}
	a := &AnonymousCredential{
		Version: AnonymousFileVersion, Name: name, ChainID: chainID, InitiativeID: initiative, IssuerID: bk.IssuerId,
		BlindKey: bk.RsaPublicKey, VoterKey: priv.Seed(), VoterPublic: HexBytes(pub), BlindingSeed: seed,
	}
	if err := writeNewJSON(AnonymousPath(home, initiative, name), a); err != nil {
		return nil, nil, fmt.Errorf("store the anonymous key: %w", err)
	}
	keyHash := sha256.Sum256(bk.RsaPublicKey)
	return a, &BlindRequest{Version: BlindRequestVersion, ChainID: chainID, InitiativeID: initiative, IssuerID: bk.IssuerId, BlindKeySHA256: keyHash[:], Blinded: blinded}, nil
}

// LoadAnonymous reads a voter's material for an initiative.
func LoadAnonymous(home, initiative, name string) (*AnonymousCredential, error) {
	if err := checkIDs(name, initiative); err != nil {
		return nil, err
	}
	path := AnonymousPath(home, initiative, name)
	var a AnonymousCredential
	if err := readJSON(path, &a); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no anonymous key %q for %s (looked for %s; start with `tabella credential request`)", name, initiative, path)
		}
		return nil, err
	}
	if a.Version != AnonymousFileVersion || len(a.VoterKey) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not an anonymous key file (version %q)", path, a.Version)
	}
	return &a, nil
}

// Key is the fresh voter key.
func (a *AnonymousCredential) Key() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(a.VoterKey) }

// AnonymousToken is the token, nil until Finish.
func (a *AnonymousCredential) AnonymousToken() *tabellav1.AnonymousToken {
	if len(a.Token) == 0 {
		return nil
	}
	return &tabellav1.AnonymousToken{IssuerId: a.IssuerID, Signature: a.Token}
}

// Finish unblinds the issuer's answer into the token, checks it, and
// stores it beside the key; the blinding seed is no longer needed and is
// dropped.
func (a *AnonymousCredential) Finish(home string, resp *BlindResponse) error {
	if len(a.Token) > 0 {
		return fmt.Errorf("the anonymous key %q for %s already has its token", a.Name, a.InitiativeID)
	}
	switch {
	case resp.Version != BlindResponseVersion:
		return fmt.Errorf("the answer has version %q, want %q", resp.Version, BlindResponseVersion)
	case resp.ChainID != a.ChainID || resp.InitiativeID != a.InitiativeID || resp.IssuerID != a.IssuerID:
		return fmt.Errorf("the answer is for %s/%s from %s, the request was for %s/%s from %s", resp.ChainID, resp.InitiativeID, resp.IssuerID, a.ChainID, a.InitiativeID, a.IssuerID)
	}
	tok, err := Unblind(a.ChainID, a.InitiativeID, a.IssuerID, a.BlindKey, ed25519.PublicKey(a.VoterPublic), a.BlindingSeed, resp.BlindSignature)
	if err != nil {
		return err
	}
	a.Token, a.BlindingSeed = tok.Signature, nil
	return writeJSONAtomic(AnonymousPath(home, a.InitiativeID, a.Name), a)
}

// ---------------------------------------------------------------------------
// JSON files
// ---------------------------------------------------------------------------

// ReadJSONFile reads a request or an answer file.
func ReadJSONFile(path string, v any) error { return readJSON(path, v) }

// WriteJSONFile writes a request or an answer file (mode 0600).
func WriteJSONFile(path string, v any) error { return writeJSONAtomic(path, v) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func marshalFile(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeNewJSON creates path (and its directory); it never overwrites.
func writeNewJSON(path string, v any) error {
	b, err := marshalFile(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeJSONAtomic replaces path through a synced temporary file, so a
// crash leaves the old content or the new, never a torn file.
func writeJSONAtomic(path string, v any) error {
	b, err := marshalFile(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
