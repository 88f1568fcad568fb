package client

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	cmttypes "github.com/cometbft/cometbft/types"
)

// LightOptions configure online header verification with CometBFT's light
// client.
type LightOptions struct {
	// Primary is the CometBFT RPC address of the node to follow.
	Primary string
	// Witnesses are other nodes' RPC addresses that cross-check the
	// primary; with none, the primary witnesses itself (no protection
	// against a lying primary beyond signatures: name real witnesses).
	Witnesses []string
	// Trust root: a trusted header height and hash, or else the genesis
	// validators (header 1 is verified against them).
	TrustHeight int64
	TrustHash   []byte
	Genesis     *TrustRoot
	ChainID     string
	// TrustingPeriod bounds how old the trusted header may be. Tabella
	// chains are verified long after the fact, so the default is long.
	TrustingPeriod time.Duration
}

// LightVerifier verifies headers online from a trust root.
type LightVerifier struct {
	c *light.Client
}

func normalizeRPC(addr string) string {
	addr = strings.TrimPrefix(addr, "tcp://")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return addr
}

// NewLightVerifier sets up a light client from the trust root.
func NewLightVerifier(ctx context.Context, o LightOptions) (*LightVerifier, error) {
	if o.TrustingPeriod == 0 {
		o.TrustingPeriod = 10 * 365 * 24 * time.Hour
	}
	chainID := o.ChainID
	if o.Genesis != nil {
		chainID = o.Genesis.ChainID
	}
	primary, err := lighthttp.New(chainID, normalizeRPC(o.Primary))
	if err != nil {
		return nil, fmt.Errorf("primary %s: %w", o.Primary, err)
	}
	var witnesses []provider.Provider
	for _, w := range o.Witnesses {
		p, err := lighthttp.New(chainID, normalizeRPC(w))
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", w, err)
		}
		witnesses = append(witnesses, p)
	}
	if len(witnesses) == 0 {
		self, _ := lighthttp.New(chainID, normalizeRPC(o.Primary))
		witnesses = append(witnesses, self)
	}
	trust := light.TrustOptions{Period: o.TrustingPeriod, Height: o.TrustHeight, Hash: o.TrustHash}
	if trust.Height == 0 {
		if o.Genesis == nil {
			return nil, fmt.Errorf("online verification needs a trust root: --genesis FILE or --trust-height and --trust-hash")
		}
		lb, err := primary.LightBlock(ctx, 1)
		if err != nil {
			return nil, fmt.Errorf("fetch header 1 from %s: %w", o.Primary, err)
		}
		if err := VerifyHeader(o.Genesis, lb.SignedHeader, lb.ValidatorSet); err != nil {
			return nil, fmt.Errorf("header 1 from %s is not signed by the genesis validators: %w", o.Primary, err)
		}
		trust.Height, trust.Hash = 1, lb.Hash()
	}
	c, err := light.NewClient(ctx, chainID, trust, primary, witnesses, lightdb.New(dbm.NewMemDB(), "tabella"),
		light.SkippingVerification(light.DefaultTrustLevel),
		light.MaxClockDrift(time.Minute),
	)
	if err != nil {
		return nil, fmt.Errorf("light client: %w", err)
	}
	return &LightVerifier{c: c}, nil
}

// Header verifies and returns the header at height.
func (v *LightVerifier) Header(ctx context.Context, height int64) (*cmttypes.LightBlock, error) {
	lb, err := v.c.VerifyLightBlockAtHeight(ctx, height, time.Now())
	if err != nil {
		return nil, fail("light client", "header %d could not be verified: %v", height, err)
	}
	return lb, nil
}

// Matches reports whether a header equals the light-verified one.
func (v *LightVerifier) Matches(ctx context.Context, sh *cmttypes.SignedHeader) error {
	lb, err := v.Header(ctx, sh.Height)
	if err != nil {
		return err
	}
	if !bytes.Equal(lb.Hash(), sh.Hash()) {
		return fail("light client", "header %d in hand (%X) differs from the verified chain's (%X): the node that served it lied", sh.Height, sh.Hash(), lb.Hash())
	}
	return nil
}
